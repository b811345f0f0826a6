"""A shop's locations (stores, stock rooms, warehouses) and the stock each carries: every shop has
exactly one default (`Main`, made with the shop, or on first need for a shop made before), a
product made without a place is carried there, and `products.stock` is the sum over the places.
Callers pass a client_id they already trust; `ids` is the caller's locations (None: all of them)."""
from sqlalchemy import String, case, cast, func, literal, or_, select, update
from sqlalchemy.exc import IntegrityError

from ..auth import audit
from ..auth.settings import shop_threshold
from ..auth.tenancy import for_shop, place_ids
from ..dialect import insert
from ..errors import ApiError
from ..extensions import db
from ..timeutil import isoformat, utcnow
from .models import Category, Location, Product, ProductStock, Transfer
from .moves import Move, apply_moves, place_stock
from .rules import sql_effective_threshold
from .signals import announce_stock_change

DEFAULT_NAME = "Main"


def default_location_id(client_id) -> int:
    """The shop's default location, made (`Main`) when the shop has none yet."""
    found = db.session.execute(for_shop(Location, client_id, Location.id).where(Location.is_default.is_(True))
                               ).scalar_one_or_none()
    if found is not None:
        return found
    db.session.execute(insert(Location).values(client_id=client_id, name=DEFAULT_NAME, kind="store", is_default=True,
                                               active=True, created_at=utcnow()).on_conflict_do_nothing())
    return db.session.execute(for_shop(Location, client_id, Location.id).where(Location.is_default.is_(True))
                              ).scalar_one()


def shop_locations(client_id, ids=None, active_only=False):
    """The shop's locations (those in `ids` when given), the default first, then by name."""
    default_location_id(client_id)
    stmt = for_shop(Location, client_id)
    if ids is not None:
        stmt = stmt.where(Location.id.in_(ids))
    if active_only:
        stmt = stmt.where(Location.active.is_(True))
    return db.session.execute(stmt.order_by(Location.is_default.desc(), func.lower(Location.name), Location.id)
                              ).scalars().all()


def active_count(client_id) -> int:
    return db.session.execute(for_shop(Location, client_id, func.count()).where(Location.active.is_(True))
                              ).scalar_one()


def get_location(client_id, location_id, ids=None):
    """The shop's location `location_id`, or 404 (another shop's, or one outside `ids`)."""
    if ids is not None and location_id not in ids:
        raise ApiError(404, "No such location.", {"location_id": "No such location."})
    found = db.session.execute(for_shop(Location, client_id).where(Location.id == location_id)).scalar_one_or_none()
    if found is None:
        raise ApiError(404, "No such location.", {"location_id": "No such location."})
    return found


def stock_location(client_id, location_id=None, user=None):
    """Where a stock change goes: the named location (404 when the caller cannot see it, 403 when
    the caller is a token bound to another), else the token's, else the caller's only location,
    else the shop's default; a caller of several locations, the default not among them, names one
    (400). An inactive location takes no stock (409)."""
    ids = place_ids(user) if user is not None else None
    bound = getattr(user, "bound_location_id", None)
    if location_id is None:
        location_id = bound or (ids[0] if ids and len(ids) == 1 else None) or default_location_id(client_id)
        if not bound and ids is not None and location_id not in ids:
            raise ApiError(400, "Name the location of this stock change.",
                           {"location_id": "Required: you work at several locations."})
    elif bound and location_id != bound:
        get_location(client_id, location_id)  # another shop's id is a 404 before it is a 403
        raise ApiError(403, "This token changes stock at its own location only.",
                       {"location_id": "Not this token's location."})
    location = get_location(client_id, location_id, ids)
    if not location.active:
        raise ApiError(409, "This location is inactive.", {"location_id": "Inactive."})
    return location


def first_of_theirs(client_id, ids):
    """The place a person limited to the locations `ids` gets when they name none and cannot see
    the default: the first of theirs; None (the default's, or their only one) otherwise."""
    if ids is not None and default_location_id(client_id) not in ids:
        return ids[0]
    return None


def opening_location(client_id, user):
    """Where a new product's opening stock goes: where the caller's stock changes go when they name
    no place (stock_location); for a person of several places, the default not among them, the
    first of theirs (as a CSV without location_id), never a place they cannot see."""
    return stock_location(client_id, first_of_theirs(client_id, place_ids(user)), user)


def _conflict():
    return ApiError(409, "This shop already has a location of that name.", {"name": "Already exists."})


def create_location(client_id, user_id, name, kind="store"):
    default_location_id(client_id)
    location = Location(client_id=client_id, name=name, kind=kind, is_default=False, active=True)
    db.session.add(location)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:
        raise _conflict()
    audit.record(client_id, user_id, "location.create", f"location {location.id}: {name}",
                 {"name": [None, name], "kind": [None, kind]})
    return location


def held_stock(location):
    """Units the location still holds (a location that holds stock cannot be deactivated)."""
    return db.session.execute(select(func.coalesce(func.sum(func.abs(ProductStock.stock)), 0)).where(
        ProductStock.location_id == location.id)).scalar_one()


def held_by_location(client_id, location_ids):
    """{location id: units held} of one shop's locations (the locations page's column)."""
    if not location_ids:
        return {}
    return dict(db.session.execute(
        select(ProductStock.location_id, func.coalesce(func.sum(ProductStock.stock), 0))
        .where(ProductStock.client_id == client_id, ProductStock.location_id.in_(location_ids))
        .group_by(ProductStock.location_id)).all())


def update_location(location, user_id, changes):
    """Rename, re-kind, make default, (de)activate: the default cannot be deactivated, nor a
    location that still holds stock (409); making one the default unmakes the other. A location
    made inactive is announced as a stock change of what it carries, so that its open alerts
    close now (an inactive place alerts no more), not at the monitor's next cycle."""
    before = location.to_dict()
    deactivating = changes.get("active") is False and location.active
    if deactivating:
        if location.is_default or changes.get("is_default"):
            raise ApiError(409, "The default location cannot be deactivated.", {"active": "The default location."})
        if held_stock(location):
            raise ApiError(409, "This location still holds stock: move it elsewhere first.",
                           {"active": "Still holds stock."})
    if changes.get("is_default") is False and location.is_default:
        raise ApiError(409, "Make another location the default instead.", {"is_default": "Always one default."})
    if changes.get("is_default") and not location.is_default:
        if changes.get("active") is False or (not location.active and changes.get("active") is not True):
            raise ApiError(409, "An inactive location cannot be the default.", {"is_default": "Inactive."})
        db.session.execute(update(Location).where(Location.client_id == location.client_id,
                                                  Location.is_default.is_(True)).values(is_default=False),
                           execution_options={"synchronize_session": "fetch"})
    for key, value in changes.items():
        setattr(location, key, value)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:
        raise _conflict()
    diff = audit.diff(before, changes)
    if diff:
        audit.record(location.client_id, user_id, "location.update", f"location {location.id}: {location.name}", diff)
    if deactivating:
        carried = db.session.execute(select(ProductStock.product_id).where(
            ProductStock.client_id == location.client_id, ProductStock.location_id == location.id)).scalars().all()
        if carried:
            announce_stock_change(location.client_id, carried, user_id)
    return location


def carry(client_id, product_id, location_id):
    """Make the location carry the product (a stock row at 0) when it does not yet."""
    db.session.execute(insert(ProductStock).values(
        client_id=client_id, product_id=product_id, location_id=location_id, stock=0, updated_at=utcnow()
    ).on_conflict_do_nothing(index_elements=["product_id", "location_id"]))


def set_threshold(product, location, threshold):
    """The product's own threshold at a location (None: the product's); the location carries it
    from then on. Returns the threshold before."""
    carry(product.client_id, product.id, location.id)
    row = db.session.execute(select(ProductStock).where(ProductStock.product_id == product.id,
                                                        ProductStock.location_id == location.id)).scalar_one()
    before, row.low_stock_threshold = row.low_stock_threshold, threshold
    db.session.flush()
    return before


def change_threshold(product, location, threshold, user_id):
    """Set the product's threshold at a location (set_threshold), audit a change, and check the
    product at once as a stock change does (a lower threshold may clear an alert, a higher one
    raise it). The JSON route and the product page both come here; the caller commits."""
    before = set_threshold(product, location, threshold)
    if before != threshold:
        audit.record(product.client_id, user_id, "product.location_threshold",
                     f"product {product.id}: {product.name} at {location.name}", {"low_stock_threshold": [before, threshold]})
    announce_stock_change(product.client_id, [product.id], user_id)
    return before


def sql_place(location_name_col, places_col):
    """What a message says after its text: " at <name>" when the shop has two or more active
    locations (`places_col`), else nothing, so a one-location shop's messages stay to the letter."""
    return case((places_col >= 2, literal(" at ") + cast(location_name_col, String)), else_=literal(""))


def place(name, places):
    return f" at {name}" if places >= 2 and name else ""


def sql_active_places(client_id_col):
    """How many active locations the shop of `client_id_col` has (a correlated count)."""
    return (select(func.count()).where(Location.client_id == client_id_col, Location.active.is_(True))
            .correlate_except(Location).scalar_subquery())


# --- transfers ------------------------------------------------------------------------------------

def transfer(client_id, user_id, product, from_id, to_id, quantity, note=None, ids=None, source="app"):
    """Move `quantity` of `product` (locked by the caller) from one location to another: two
    movements in the caller's transaction; 409 and nothing moved when the source holds less.
    `ids`: the caller's locations (None: all). Returns the Transfer."""
    if from_id == to_id:
        raise ApiError(400, "Transfer between two different locations.", {"to_location_id": "Same as the source."})
    source_place, target = get_location(client_id, from_id, ids), get_location(client_id, to_id, ids)
    for field, place_ in (("from_location_id", source_place), ("to_location_id", target)):
        if not place_.active:
            raise ApiError(409, f"{place_.name} is inactive.", {field: "Inactive."})
    held = place_stock(client_id, [product.id], [from_id]).get((product.id, from_id), 0)
    if held < quantity:
        raise ApiError(409, f"{source_place.name} holds only {held} of {product.name}; nothing was moved.",
                       {"quantity": f"At most {max(held, 0)}."})
    moved = Transfer(client_id=client_id, product_id=product.id, from_location_id=from_id, to_location_id=to_id,
                     quantity=quantity, note=note, user_id=user_id, created_at=utcnow())
    db.session.add(moved)
    db.session.flush()
    label = f"Transfer {moved.id}" + (f": {note}" if note else "")
    apply_moves(client_id, [Move(product.id, from_id, -quantity, "transfer_out", label[:200]),
                            Move(product.id, to_id, quantity, "transfer_in", label[:200])],
                user_id, source, moved.created_at)
    announce_stock_change(client_id, [product.id], user_id)
    return moved


def transfer_dicts(client_id, transfers):
    names = {loc.id: loc.brief() for loc in shop_locations(client_id)}
    products = dict(db.session.execute(select(Product.id, Product.name).where(
        Product.id.in_({t.product_id for t in transfers}))).all()) if transfers else {}
    return [{"id": t.id, "product": {"id": t.product_id, "name": products.get(t.product_id)},
             "from_location": names.get(t.from_location_id), "to_location": names.get(t.to_location_id),
             "quantity": t.quantity, "note": t.note, "created_at": isoformat(t.created_at)} for t in transfers]


def list_transfers(client_id, limit=20, before_id=None, ids=None, product_id=None):
    """The shop's transfers, newest first (those touching the locations `ids` when given)."""
    stmt = for_shop(Transfer, client_id)
    if ids is not None:
        stmt = stmt.where(or_(Transfer.from_location_id.in_(ids), Transfer.to_location_id.in_(ids)))
    if before_id is not None:
        stmt = stmt.where(Transfer.id < before_id)
    if product_id is not None:
        stmt = stmt.where(Transfer.product_id == product_id)
    return db.session.execute(stmt.order_by(Transfer.id.desc()).limit(limit)).scalars().all()


# --- transfer before you buy --------------------------------------------------------------------

def spare_stock(client_id, product_ids):
    """{product id: [(location id, name, spare)]}: each active location's stock above its effective
    threshold (may be 0 or less), for these products of one shop, in one query."""
    if not product_ids:
        return {}
    threshold = sql_effective_threshold(ProductStock.low_stock_threshold, Product.low_stock_threshold,
                                        Category.low_stock_threshold, shop_threshold(client_id))
    rows = db.session.execute(
        select(ProductStock.product_id, Location.id, Location.name, ProductStock.stock - threshold)
        .join(Product, Product.id == ProductStock.product_id)
        .join(Location, Location.id == ProductStock.location_id)
        .outerjoin(Category, Category.id == Product.category_id)
        .where(ProductStock.client_id == client_id, Location.active.is_(True),
               ProductStock.product_id.in_(sorted(set(product_ids))))
        .order_by(Location.id))
    out = {}
    for pid, lid, name, spare in rows:
        out.setdefault(pid, []).append((lid, name, spare))
    return out


def suggested_transfers(client_id, places):
    """{(product id, location id): {"from_location": {id, name}, "spare": n, "quantity": q}} for
    the places given: the other active location with the most spare stock (above its own
    threshold; the lowest id among equals), when one has any, and the `quantity` a one-click
    transfer fills in: what brings the alerting location back above its threshold (its threshold
    + 1 - its stock), at most `spare`; None when that location is above its threshold again."""
    spares = spare_stock(client_id, [pid for pid, _ in places])
    out = {}
    for pid, lid in places:
        best = max(((spare, -other, name) for other, name, spare in spares.get(pid, []) if other != lid and spare > 0),
                   default=None)
        if best is not None:
            spare, other, name = best
            own = next((s for other_, _, s in spares.get(pid, []) if other_ == lid), None)
            need = 1 - own if own is not None else 0  # 0 or less: no longer low there
            out[(pid, lid)] = {"from_location": {"id": -other, "name": name}, "spare": spare,
                               "quantity": min(need, spare) if need > 0 else None}
    return out
