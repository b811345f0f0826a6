"""Products, categories and stock changes, without a request: the routes, the CLI, the demo seed
and the tests call these. Callers pass a client_id they already trust. The products list and its
counts are in listing.py (imported here, so that callers keep one door)."""
from sqlalchemy import and_, column, func, select, table, update
from sqlalchemy.exc import IntegrityError

from ..auth.models import DEFAULT_THRESHOLD, Client, NotificationSettings
from ..auth import audit
from ..auth.tenancy import for_shop, owned_by
from ..dialect import insert, lock_for_write
from ..errors import ApiError, ValidationError
from ..extensions import db
from ..timeutil import isoformat, utcnow
from . import locations, rules, sales
from .models import MAX_STOCK, Category, Location, Product, ProductStock, StockMovement
from .rules import effective_threshold, stock_status, threshold_source
from .listing import (View, count_matching, forecast_days, list_products, status_counts,  # noqa: F401
                      threshold_bound)
from .signals import announce_stock_change

# Purchasing's suppliers (a higher feature), read by name for a product's `supplier`: no import up.
SUPPLIERS = table("suppliers", column("id"), column("client_id"), column("name"))
PRICES = ("cost_price", "sell_price")


def _money(value):
    """A price (a Decimal from its Numeric(12,2) column) as the API writes it: "3.20", or None."""
    return None if value is None else f"{value:.2f}"


def supplier_names(client_id, ids):
    """{supplier id: name} of one shop's suppliers among `ids`."""
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    return dict(db.session.execute(select(SUPPLIERS.c.id, SUPPLIERS.c.name).where(
        SUPPLIERS.c.client_id == client_id, SUPPLIERS.c.id.in_(ids))).all())


def supplier_choices(client_id):
    """[(id, name)] of the shop's suppliers by name, for the product form."""
    return db.session.execute(select(SUPPLIERS.c.id, SUPPLIERS.c.name).where(SUPPLIERS.c.client_id == client_id)
                              .order_by(func.lower(SUPPLIERS.c.name), SUPPLIERS.c.id)).all()


def check_supplier(client_id, values):
    """A `supplier_id` in `values` must be one of the shop's suppliers: else 404, like any other
    shop's id."""
    supplier_id = values.get("supplier_id")
    if supplier_id is not None and not supplier_names(client_id, [supplier_id]):
        raise ApiError(404, "No such supplier.", {"supplier_id": "No such supplier."})


def _places(client_id, products, ids):
    """{product id: [(location id, name, stock, location threshold)]} of the active locations that
    carry these products (those in `ids` when given), the default first, then by name."""
    stmt = (select(ProductStock.product_id, Location.id, Location.name, ProductStock.stock,
                   ProductStock.low_stock_threshold)
            .join(Location, Location.id == ProductStock.location_id)
            .where(ProductStock.client_id == client_id, Location.active.is_(True),
                   ProductStock.product_id.in_([p.id for p in products]))
            .order_by(Location.is_default.desc(), func.lower(Location.name), Location.id))
    if ids is not None:
        stmt = stmt.where(Location.id.in_(ids))
    out = {}
    for pid, *place in db.session.execute(stmt):
        out.setdefault(pid, []).append(place)
    return out


def product_dicts(client_id, products, now=None, location_id=None, ids=None):
    """The products as the API shows them: effective threshold and its source, status, snooze,
    days left at their own rate of sales, and their stock at each location that carries them
    (a few queries for all of them). With `location_id`, stock, threshold, status and days left
    are that location's; for a caller limited to the locations `ids`, stock is the sum over those."""
    now = now or utcnow()
    products = list(products)
    if location_id is None and ids is not None and len(ids) == 1:
        location_id = ids[0]  # a person of one place: that place's view, as their list filters (listing.View.of)
    timezone, shop_default, window = db.session.execute(
        select(Client.timezone, NotificationSettings.low_stock_threshold, NotificationSettings.forecast_window_days)
        .outerjoin(NotificationSettings, NotificationSettings.client_id == Client.id)
        .where(Client.id == client_id)).one()
    shop_default = DEFAULT_THRESHOLD if shop_default is None else shop_default
    window = window or sales.DEFAULT_WINDOW_DAYS
    sold = sales.units_by_place(client_id, timezone, window, [p.id for p in products], now) if products else {}
    places = _places(client_id, products, ids) if products else {}
    suppliers = supplier_names(client_id, [p.supplier_id for p in products])
    units_of = {}  # units sold per product over the places counted: one pass, not one per product
    for (pid, lid), units in sold.items():
        if ids is None or lid in ids:
            units_of[pid] = units_of.get(pid, 0) + units
    out = []
    for product in products:
        category_threshold = product.category.low_stock_threshold if product.category else None
        threshold = effective_threshold(product.low_stock_threshold, category_threshold, shop_default)

        def at(lid, name, stock, own):
            here = effective_threshold(product.low_stock_threshold, category_threshold, shop_default, own)
            return {"location": {"id": lid, "name": name}, "stock": stock, "low_stock_threshold": own,
                    "effective_threshold": here,
                    "threshold_source": threshold_source(product.low_stock_threshold, category_threshold, own),
                    "status": stock_status(stock, here, product.active),
                    "days_left": rules.days_left(stock, sold.get((product.id, lid)), window)}

        entries = [at(*place) for place in places.get(product.id, [])]
        stock, source = product.stock, threshold_source(product.low_stock_threshold, category_threshold)
        units = units_of.get(product.id, 0)
        days = rules.days_left(stock, units, window)
        if ids is not None:
            stock = sum(e["stock"] for e in entries)
            days = rules.days_left(stock, units, window)
        if location_id is not None:
            here = next((e for e in entries if e["location"]["id"] == location_id), None)
            if here is not None:
                stock, threshold, source, days = (here["stock"], here["effective_threshold"], here["threshold_source"],
                                                  here["days_left"])
            else:
                stock, days = 0, None
        snoozed = rules.is_snoozed(product.snoozed_until, product.muted, now)
        out.append({
            "id": product.id,
            "name": product.name,
            "sku": product.sku,
            "category": product.category.to_dict() if product.category else None,
            "stock": stock,
            "low_stock_threshold": product.low_stock_threshold,
            "effective_threshold": threshold,
            "threshold_source": source,
            "status": stock_status(stock, threshold, product.active),
            "active": product.active,
            "snoozed_until": isoformat(product.snoozed_until) if snoozed and not product.muted else None,
            "muted": product.muted,
            "days_left": days,
            "supplier": ({"id": product.supplier_id, "name": suppliers[product.supplier_id]}
                         if product.supplier_id in suppliers else None),
            "cost_price": _money(product.cost_price),
            "sell_price": _money(product.sell_price),
            "reorder_quantity": product.reorder_quantity,
            "max_stock": product.max_stock,
            "pack_size": product.pack_size,
            "locations": entries,
        })
    return out


def product_dict(product, now=None, location_id=None, ids=None):
    return product_dicts(product.client_id, [product], now, location_id, ids)[0]


def category_by_name(client_id, name):
    """The shop's category of this name (in any case), created when new: the UNIQUE index on
    (client_id, lower(name)) decides, also between two requests creating it at once."""
    db.session.execute(insert(Category).values(client_id=client_id, name=name).on_conflict_do_nothing())
    return db.session.execute(
        for_shop(Category, client_id).where(func.lower(Category.name) == name.lower())
    ).scalar_one()


def category_dicts(client_id):
    """The shop's categories with their threshold and how many active products each has."""
    counts = dict(db.session.execute(
        for_shop(Product, client_id, Product.category_id, func.count()).where(Product.active.is_(True))
        .group_by(Product.category_id)).all())
    rows = db.session.execute(for_shop(Category, client_id).order_by(func.lower(Category.name))).scalars()
    return [{"id": c.id, "name": c.name, "low_stock_threshold": c.low_stock_threshold,
             "products": counts.get(c.id, 0)} for c in rows]


def _category_conflict():
    return ApiError(409, "This shop already has a category of that name.", {"name": "Already exists."})


def save_category(client_id, user_id, changes, category=None):
    """Create a category (`category` None) or change one; a new threshold is checked against its
    products at once. Returns (category, the alert it raised for `user_id` or None)."""
    creating = category is None
    if creating:
        category = Category(client_id=client_id)
        db.session.add(category)
    before = {"name": category.name, "low_stock_threshold": category.low_stock_threshold}
    for key, value in changes.items():
        setattr(category, key, value)
    try:
        db.session.flush()
    except IntegrityError:
        raise _category_conflict()
    if not creating or changes.get("low_stock_threshold") is not None:
        diff = audit.diff({} if creating else before, changes)
        if diff:
            audit.record(client_id, user_id, "category.create" if creating else "category.update",
                         f"category {category.id}: {category.name}", diff)
    alert = None
    if "low_stock_threshold" in changes:
        ids = db.session.execute(for_shop(Product, client_id, Product.id).where(
            Product.category_id == category.id, Product.active.is_(True))).scalars().all()
        if ids:
            alert = announce_stock_change(client_id, ids, user_id)
    return category, alert


def _sku_conflict():
    return ApiError(409, "Another product of this shop already has this SKU.", {"sku": "Already used."})


def create_product(client_id, user_id, name, sku=None, category=None, stock=0, low_stock_threshold=None,
                   location_id=None, **purchasing):
    """A new product; `purchasing` holds its supplier_id, prices, reorder quantity, max stock and
    pack size when given."""
    check_supplier(client_id, purchasing)
    place = location_id or locations.default_location_id(client_id)
    product = Product(
        client_id=client_id, name=name, sku=sku, stock=0, low_stock_threshold=low_stock_threshold,
        category=category_by_name(client_id, category) if category else None, **purchasing,
    )
    product.initial_location_id = place  # carried there (models._carry_new_product)
    db.session.add(product)
    try:
        db.session.flush()
    except IntegrityError:
        raise _sku_conflict()
    if low_stock_threshold is not None:
        audit.record(client_id, user_id, "product.create", f"product {product.id}: {product.name}",
                     {"low_stock_threshold": [None, low_stock_threshold]})
    alert = None
    if stock:
        _, alert = change_stock(product, user_id, delta=stock, reason="initial", location_id=place)
    else:
        alert = announce_stock_change(client_id, [product.id], user_id)
    return product, alert


def update_product(product, user_id, changes):
    """Apply validated changes (name, sku, category, low_stock_threshold, active, and purchasing's
    supplier_id, prices, reorder_quantity, max_stock, pack_size)."""
    check_supplier(product.client_id, changes)
    before = {"name": product.name, "sku": product.sku, "low_stock_threshold": product.low_stock_threshold,
              "active": product.active, "category": product.category.name if product.category else None,
              "supplier_id": product.supplier_id, "reorder_quantity": product.reorder_quantity,
              "max_stock": product.max_stock, "pack_size": product.pack_size,
              **{name: _money(getattr(product, name)) for name in PRICES}}
    after = {k: _money(v) if k in PRICES else v for k, v in changes.items()}
    if "category" in changes:
        name = changes.pop("category")
        product.category = category_by_name(product.client_id, name) if name else None
    for key, value in changes.items():
        setattr(product, key, value)
    try:
        db.session.flush()
    except IntegrityError:
        raise _sku_conflict()
    diff = audit.diff(before, after)
    if diff:
        archived = set(diff) == {"active"}
        action = ("product.archive" if not product.active else "product.unarchive") if archived else "product.update"
        audit.record(product.client_id, user_id, action, f"product {product.id}: {product.name}", diff)
    # A new threshold (or an un-archived product) may make it low now.
    return announce_stock_change(product.client_id, [product.id], user_id)


def product_for_update(client_id, product_id=None, sku=None):
    """The shop's product by id or SKU, locked until the transaction ends; 404 when none."""
    where = Product.id == product_id if product_id is not None else Product.sku == sku
    lock_for_write(Product, where, owned_by(Product, client_id))
    found = db.session.execute(for_shop(Product, client_id).where(where).with_for_update(of=Product)
                               ).unique().scalar_one_or_none()
    if found is None:
        raise ApiError(404, "No such product.", {"product_id" if product_id is not None else "sku": "No such product."})
    return found


def change_stock(product, user_id, reason, delta=None, quantity=None, source="app", note=None, location_id=None):
    """Change stock at a location (the shop's default when None) by `delta` or to `quantity`,
    record the movement (made through `source`, with an optional `note` such as a purchase order's
    number), keep the product's whole stock the sum, and check for an alert, all in the caller's
    transaction. Returns (product, the alert it raised for `user_id` as a JSON-ready dict, or None)."""
    allow_negative = product.client.allow_negative_stock
    location_id = location_id or locations.default_location_id(product.client_id)
    locations.carry(product.client_id, product.id, location_id)
    at_place = and_(ProductStock.product_id == product.id, ProductStock.location_id == location_id)
    here = db.session.execute(select(ProductStock.stock).where(at_place)).scalar_one()
    if quantity is not None:
        delta = quantity - here
    field = "quantity" if quantity is not None else "delta"
    # The bounds are in the UPDATEs, so two changes at once cannot together pass them.
    floor = -MAX_STOCK if allow_negative else 0
    new_here = db.session.execute(
        update(ProductStock).where(at_place, ProductStock.stock + delta <= MAX_STOCK, ProductStock.stock + delta >= floor)
        .values(stock=ProductStock.stock + delta, updated_at=utcnow()).returning(ProductStock.stock),
        execution_options={"synchronize_session": False}).scalar_one_or_none()
    if new_here is None:
        here = db.session.execute(select(ProductStock.stock).where(at_place)).scalar_one()
        if here + delta > MAX_STOCK:
            raise ValidationError({field: f"Stock cannot go above {MAX_STOCK:,} (now {here})."},
                                  f"Stock cannot go above {MAX_STOCK:,}.")
        if allow_negative:
            raise ValidationError({field: f"Stock cannot go below -{MAX_STOCK:,}."}, "Stock is out of range.")
        raise ValidationError({field: f"Stock cannot go below zero (only {here} in stock)."},
                              "Stock cannot go below zero.")
    total = db.session.execute(
        update(Product).where(Product.id == product.id, owned_by(Product, product.client_id),
                              Product.stock + delta <= MAX_STOCK)
        .values(stock=Product.stock + delta, updated_at=utcnow()).returning(Product.stock),
        execution_options={"synchronize_session": False}).scalar_one_or_none()
    if total is None:
        raise ValidationError({field: f"The product's whole stock cannot go above {MAX_STOCK:,}."},
                              f"Stock cannot go above {MAX_STOCK:,}.")
    now = utcnow()
    db.session.add(StockMovement(client_id=product.client_id, product_id=product.id, location_id=location_id,
                                 delta=delta, stock_after=new_here, reason=reason, user_id=user_id,
                                 source=source, note=note, created_at=now))
    if sales.is_counted_sale(reason, delta):
        sales.record_sales(product.client_id, [(product.id, location_id, -delta)], now, product.client.timezone)
    db.session.flush()
    db.session.refresh(product)
    if user_id is None:  # a till's token: no one's bell to answer from, so the alert as raised
        raised = announce_stock_change(product.client_id, [product.id], every=True) or []
        return product, (raised[0] if raised else None)
    return product, announce_stock_change(product.client_id, [product.id], user_id)
