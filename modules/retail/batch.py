"""A till's batch of stock changes: up to 1,000 changes by id or SKU, applied all or none in one
transaction, checked for alerts once for the whole batch, and answered once per Idempotency-Key
(the same key and body replay the stored answer; another body is a 409)."""
import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import bindparam, delete, or_, select, update

from ..auth.tenancy import place_ids
from ..dialect import insert
from ..errors import ApiError, ValidationError
from ..extensions import db
from . import locations
from .forms import MAX_STOCK, REASONS
from .models import IdempotencyKey, Product
from .moves import Move, apply_moves, place_stock
from .signals import announce_stock_change

MAX_CHANGES = 1000
MAX_ID = 2**31 - 1
KEEP_KEYS = timedelta(hours=24)


@dataclass(frozen=True)
class Change:
    index: int
    product_id: int | None
    sku: str | None
    delta: int | None
    quantity: int | None
    reason: str
    location_id: int | None = None


def _int(value, low, high):
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def read_batch(body):
    """The changes of a batch body, or a 400 naming each bad change by its index."""
    if set(body) - {"changes"}:
        raise ValidationError({k: "Unknown field." for k in sorted(set(body) - {"changes"})},
                              "The request has unknown fields.")
    changes = body.get("changes")
    if not isinstance(changes, list) or not 1 <= len(changes) <= MAX_CHANGES:
        raise ValidationError({"changes": f"Must be a list of 1 to {MAX_CHANGES} changes."})
    errors, out = {}, []
    for n, change in enumerate(changes):
        name = f"changes[{n}]"
        if not isinstance(change, dict):
            errors[name] = "Must be an object."
            continue
        unknown = set(change) - {"product_id", "sku", "delta", "quantity", "reason", "location_id"}
        location_id = change.get("location_id")
        product_id, sku = change.get("product_id"), change.get("sku")
        delta, quantity, reason = change.get("delta"), change.get("quantity"), change.get("reason")
        if unknown:
            errors[name] = "Unknown field: " + ", ".join(sorted(unknown)) + "."
        elif (product_id is None) == (sku is None):
            errors[name] = "Give either product_id or sku (one of them)."
        elif product_id is not None and not _int(product_id, 1, MAX_ID):
            errors[name] = "product_id must be a product's id."
        elif sku is not None and not (isinstance(sku, str) and 0 < len(sku.strip()) <= 64 and sku.isprintable()):
            errors[name] = "sku must be a product's SKU (1 to 64 characters)."
        elif (delta is None) == (quantity is None):
            errors[name] = "Give either delta or quantity (one of them)."
        elif delta is not None and not (_int(delta, -MAX_STOCK, MAX_STOCK) and delta != 0):
            errors[name] = f"delta must be a whole number from -{MAX_STOCK:,} to {MAX_STOCK:,}, not zero."
        elif quantity is not None and not _int(quantity, 0, MAX_STOCK):
            errors[name] = f"quantity must be a whole number from 0 to {MAX_STOCK:,}."
        elif reason not in REASONS:
            errors[name] = "reason must be one of: " + ", ".join(REASONS) + "."
        elif location_id is not None and not _int(location_id, 1, MAX_ID):
            errors[name] = "location_id must be a location's id."
        else:
            out.append(Change(n, product_id, sku.strip() if sku else None, delta, quantity, reason, location_id))
    if errors:
        raise ValidationError(errors, "Some changes are invalid; nothing was applied.")
    return out


def body_hash(body):
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def claim_key(client_id, key, digest, now):
    """Take the key for this request (INSERT ... ON CONFLICT DO NOTHING: of two requests with
    one key, the database lets one in and the other waits for its commit). Returns None when
    taken now, else the stored answer; a different body under the key is a 409."""
    db.session.execute(delete(IdempotencyKey).where(IdempotencyKey.client_id == client_id,
                                                    IdempotencyKey.created_at < now - KEEP_KEYS))
    taken = db.session.execute(
        insert(IdempotencyKey).values(client_id=client_id, key=key, body_hash=digest, created_at=now)
        .on_conflict_do_nothing(index_elements=["client_id", "key"]).returning(IdempotencyKey.id)).first()
    if taken is not None:
        return None
    stored_hash, response = db.session.execute(
        select(IdempotencyKey.body_hash, IdempotencyKey.response)
        .where(IdempotencyKey.client_id == client_id, IdempotencyKey.key == key)).one()
    if stored_hash != digest:
        raise ApiError(409, "This Idempotency-Key was used with another request body.")
    return response


def store_answer(client_id, key, answer):
    db.session.execute(update(IdempotencyKey).where(IdempotencyKey.client_id == client_id, IdempotencyKey.key == key)
                       .values(response=answer), execution_options={"synchronize_session": False})


def _products(client_id, changes):
    """{id: (id, sku, stock)} and {sku: id} of the shop's products the changes name, locked."""
    ids = sorted({c.product_id for c in changes if c.product_id is not None}) or [0]
    skus = sorted({c.sku for c in changes if c.sku is not None}) or [""]
    # One statement, rows locked in id order: two batches never wait for each other in a circle.
    found = db.session.execute(
        select(Product.id, Product.sku, Product.stock)
        .where(Product.client_id == client_id,
               or_(Product.id.in_(bindparam("ids", ids, expanding=True)),
                   Product.sku.in_(bindparam("skus", skus, expanding=True))))
        .order_by(Product.id).with_for_update()).all()
    by_id = {row.id: row for row in found}
    return by_id, {row.sku: row.id for row in found if row.sku}


def apply_batch(client_id, changes, user_id, allow_negative, source="app", caller=None):
    """Apply every change or none, each at its location (named, else the caller's: see
    locations.stock_location); returns the answer (applied, products with their whole stock,
    alerts). The caller commits."""
    by_id, by_sku = _products(client_id, changes)
    places = {loc: locations.stock_location(client_id, loc, caller).id for loc in {c.location_id for c in changes}}
    pids = sorted(by_id)
    here = place_stock(client_id, pids, set(places.values()))
    total = {pid: row.stock for pid, row in by_id.items()}
    errors, moves = {}, []
    for change in changes:
        pid = change.product_id if change.product_id is not None else by_sku.get(change.sku)
        if pid not in total:
            errors[f"changes[{change.index}]"] = ("No product with this id." if change.product_id is not None
                                                  else "No product with this SKU.")
            continue
        key = (pid, places[change.location_id])
        stock = here.get(key, 0)
        delta = change.delta if change.delta is not None else change.quantity - stock
        after = stock + delta
        if after < 0 and not allow_negative:
            errors[f"changes[{change.index}]"] = f"Stock cannot go below zero (only {stock} in stock)."
            continue
        if max(after, total[pid] + delta) > MAX_STOCK or after < -MAX_STOCK:
            errors[f"changes[{change.index}]"] = f"Stock must stay within {MAX_STOCK:,}."
            continue
        here[key], total[pid] = after, total[pid] + delta
        moves.append(Move(pid, key[1], delta, change.reason))
    if errors:
        raise ValidationError(errors, "Some changes cannot be applied; nothing was applied.")
    changed = apply_moves(client_id, moves, user_id, source)
    alerts = announce_stock_change(client_id, changed, user_id, every=True) or []
    return {"applied": len(moves), "products": [{"id": pid, "stock": stock}
                                                for pid, stock in _shown_stock(client_id, changed, total, caller)],
            "alerts": alerts}


def _shown_stock(client_id, product_ids, total, caller):
    """[(product id, stock)] as the caller sees it: the whole stock, or for a person limited to
    some locations the sum over those (the rest of the shop is not shown to them). A token keeps
    the whole stock."""
    ids = place_ids(caller) if caller is not None and not caller.is_token else None
    if ids is None:
        return [(pid, total[pid]) for pid in product_ids]
    held = {}
    for (pid, _), stock in place_stock(client_id, product_ids, ids).items():
        held[pid] = held.get(pid, 0) + stock
    return [(pid, held.get(pid, 0)) for pid in product_ids]
