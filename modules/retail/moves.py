"""Stock moving at its places, set-based: a list of checked moves (product, location, delta, reason)
becomes the stock rows of those places, the products' whole stock (the sum over the places) and
one movement each, in a few statements whatever their number. A batch, a CSV import and a transfer
write through here; a single change (service.change_stock) checks its bounds in its UPDATE."""
from dataclasses import dataclass

from sqlalchemy import bindparam, select, update

from ..dialect import insert
from ..extensions import db
from ..timeutil import utcnow
from .models import Product, ProductStock, StockMovement
from .sales import is_counted_sale, record_sales


@dataclass(frozen=True)
class Move:
    product_id: int
    location_id: int
    delta: int
    reason: str
    note: str | None = None


def place_stock(client_id, product_ids, location_ids):
    """{(product id, location id): stock} of the places that carry these products, rows locked
    (in id order: two writers never wait for each other in a circle)."""
    if not product_ids or not location_ids:
        return {}
    rows = db.session.execute(
        select(ProductStock.product_id, ProductStock.location_id, ProductStock.stock)
        .where(ProductStock.client_id == client_id,
               ProductStock.product_id.in_(bindparam("pids", sorted(product_ids), expanding=True)),
               ProductStock.location_id.in_(bindparam("lids", sorted(location_ids), expanding=True)))
        .order_by(ProductStock.id).with_for_update()).all()
    return {(p, loc): stock for p, loc, stock in rows}


def apply_moves(client_id, moves, user_id=None, source="app", now=None):
    """Write checked moves: each place's stock (made to carry the product when it did not), each
    product's whole stock, one movement per move (its `stock_after` is the place's), the sales
    among them in the daily rollup. Returns the
    ids of the products changed, sorted. The caller checked the bounds and commits."""
    if not moves:
        return []
    now = now or utcnow()
    places = sorted({(m.product_id, m.location_id) for m in moves})
    here = place_stock(client_id, {p for p, _ in places}, {loc for _, loc in places})
    missing = [key for key in places if key not in here]
    if missing:  # carried from now on (ON CONFLICT: another writer may carry it at the same moment)
        db.session.execute(insert(ProductStock).on_conflict_do_nothing(index_elements=["product_id", "location_id"]),
                           [{"client_id": client_id, "product_id": p, "location_id": loc, "stock": 0,
                             "updated_at": now} for p, loc in missing])
        here.update(place_stock(client_id, {p for p, _ in missing}, {loc for _, loc in missing}))
    totals = dict(db.session.execute(select(Product.id, Product.stock).where(
        Product.client_id == client_id, Product.id.in_(bindparam("ids", sorted({p for p, _ in places}),
                                                                   expanding=True)))).all())
    movements = []
    for move in moves:
        key = (move.product_id, move.location_id)
        here[key] += move.delta
        totals[move.product_id] += move.delta
        movements.append({"client_id": client_id, "product_id": move.product_id, "location_id": move.location_id,
                          "delta": move.delta, "stock_after": here[key], "reason": move.reason,
                          "user_id": user_id, "source": source, "note": move.note, "created_at": now})
    stock_table, product_table = ProductStock.__table__, Product.__table__
    db.session.execute(
        update(stock_table).where(stock_table.c.product_id == bindparam("b_pid"),
                                  stock_table.c.location_id == bindparam("b_lid"))
        .values(stock=bindparam("b_stock"), updated_at=now),
        [{"b_pid": p, "b_lid": loc, "b_stock": here[(p, loc)]} for p, loc in places])
    changed = sorted({p for p, _ in places})
    db.session.execute(update(product_table).where(product_table.c.id == bindparam("b_id")).values(
        stock=bindparam("b_stock"), updated_at=now), [{"b_id": p, "b_stock": totals[p]} for p in changed])
    db.session.execute(insert(StockMovement), movements)
    record_sales(client_id, [(m.product_id, m.location_id, -m.delta) for m in moves
                             if is_counted_sale(m.reason, m.delta)], now)
    return changed
