"""Products, categories and stock changes, without a request: the routes, the CLI, the demo seed
and the tests call these. Callers pass a client_id they already trust."""
from dataclasses import dataclass

from sqlalchemy import and_, case, column, false, func, or_, select, table, update
from sqlalchemy.exc import IntegrityError

from ..auth.models import DEFAULT_THRESHOLD, Client, NotificationSettings
from ..auth import audit
from ..auth.settings import shop_threshold
from ..auth.tenancy import for_shop, owned_by
from ..dialect import insert, lock_for_write
from ..errors import ApiError, ValidationError
from ..extensions import db
from ..timeutil import isoformat, utcnow
from . import locations, rules, sales
from .models import MAX_STOCK, Category, Location, Product, ProductStock, SalesDaily, StockMovement
from .rules import effective_threshold, sql_effective_threshold, stock_status, threshold_source
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
    timezone, shop_default, window = db.session.execute(
        select(Client.timezone, NotificationSettings.low_stock_threshold, NotificationSettings.forecast_window_days)
        .outerjoin(NotificationSettings, NotificationSettings.client_id == Client.id)
        .where(Client.id == client_id)).one()
    shop_default = DEFAULT_THRESHOLD if shop_default is None else shop_default
    window = window or sales.DEFAULT_WINDOW_DAYS
    sold = sales.units_by_place(client_id, timezone, window, [p.id for p in products], now) if products else {}
    places = _places(client_id, products, ids) if products else {}
    suppliers = supplier_names(client_id, [p.supplier_id for p in products])
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
        units = sum(u for (pid, lid), u in sold.items() if pid == product.id and (ids is None or lid in ids))
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


def _forecast(client_id):
    """(timezone, forecast_days, window) of the shop: the "running out" filter's inputs."""
    timezone, days, window = db.session.execute(
        select(Client.timezone, NotificationSettings.forecast_days, NotificationSettings.forecast_window_days)
        .outerjoin(NotificationSettings, NotificationSettings.client_id == Client.id)
        .where(Client.id == client_id)).one()
    return timezone, days or 0, window or sales.DEFAULT_WINDOW_DAYS


def forecast_days(client_id):
    return _forecast(client_id)[1]


def threshold_bound(client_id, shop_default=None):
    """The highest effective threshold any product of the shop can have (its products', its
    categories', the shop's): `stock <= bound` lets the low filter read a range of the stock index
    instead of every product. Two index look-ups."""
    highest_product = (select(func.max(Product.low_stock_threshold))
                       .where(owned_by(Product, client_id)).scalar_subquery())
    highest_category = (select(func.max(Category.low_stock_threshold))
                        .where(owned_by(Category, client_id)).scalar_subquery())
    values = db.session.execute(select(highest_product, highest_category)).one()
    if shop_default is None:
        shop_default = shop_threshold(client_id)
    return max([shop_default, *(v for v in values if v is not None)])


def _listing(client_id, stock, now, shop_default=None, bound=None):
    """The shop's active products matching a stock filter (all, low incl. out, out, soon:
    running out by the forecast, snoozed: snoozed or muted), and their effective threshold.
    `shop_default` and `bound` (threshold_bound()) when the caller has them already."""
    if shop_default is None:
        shop_default = shop_threshold(client_id)
    threshold = sql_effective_threshold(Product.low_stock_threshold, Category.low_stock_threshold, shop_default)
    stmt = for_shop(Product, client_id).where(Product.active.is_(True))
    if stock in ("low", "soon"):
        stmt = _with_category(stmt)
    if stock == "low":
        if bound is None:
            bound = threshold_bound(client_id, shop_default)
        stmt = stmt.where(Product.stock <= bound, Product.stock <= threshold)
    elif stock == "out":
        stmt = stmt.where(Product.stock <= 0)
    elif stock == "snoozed":
        stmt = stmt.where(_sql_snoozed(now))
    elif stock == "soon":
        timezone, days, window = _forecast(client_id)
        if days <= 0:
            return stmt.where(false()), threshold
        sold = sales.units_sold(sales.window_first_day(timezone, window, now), SalesDaily.client_id == client_id)
        stmt = (stmt.join(sold, and_(sold.c.product_id == Product.id, sold.c.client_id == Product.client_id))
                .where(Product.stock > threshold, rules.sql_days_left(Product.stock, sold.c.units, window) <= days))
    return stmt, threshold


def _with_category(stmt):
    """`stmt` joined to what the effective threshold reads; only where a filter or the order needs
    it (SQLite does not drop an unused outer join, and then cannot count from an index alone)."""
    return stmt.outerjoin(Category, Category.id == Product.category_id)


def _sql_snoozed(now):
    """Muted, or snoozed until after `now`: spelled as two ranges of (client_id, active, muted,
    snoozed_until) so that the index answers it (the negated rule would read every product)."""
    return or_(Product.muted.is_(True), and_(Product.muted.is_(False), Product.snoozed_until > now))


def _count(stmt):
    """How many rows `stmt` (a listing over products) matches, without selecting its columns:
    where the filter needs no other table, a count from the index alone."""
    return db.session.execute(stmt.with_only_columns(func.count(), maintain_column_froms=True)
                              .order_by(None)).scalar_one()


def _ordered(keys, flip=False):
    """ORDER BY of [(column, descending)], or of the opposite order when `flip`."""
    return [key.desc() if descending != flip else key.asc() for key, descending in keys]


def _page_ids(stmt, keys, offset, limit, total):
    """The ids of one page of `stmt` sorted by `keys` (a deferred join: the offset walks an index
    of ids, not whole rows); past the middle, read from the other end, so that no page walks more
    than half of the list however deep it is."""
    if offset >= total or limit <= 0:
        return []
    ids = stmt.with_only_columns(Product.id, maintain_column_froms=True)
    limit = min(limit, total - offset)
    if offset > total // 2:
        rest = total - offset - limit
        return db.session.execute(ids.order_by(*_ordered(keys, flip=True)).limit(limit).offset(rest)
                                  ).scalars().all()[::-1]
    return db.session.execute(ids.order_by(*_ordered(keys)).limit(limit).offset(offset)).scalars().all()


def _status_page_ids(client_id, stmt, threshold, descending, offset, limit, total):
    """A page sorted by status (out, low, ok; each by name): the three statuses read one after the
    other, each in the order of an index, instead of ranking and sorting every product."""
    out = stmt.where(Product.stock <= 0)
    low = stmt.where(Product.stock > 0, Product.stock <= threshold_bound(client_id, shop_threshold(client_id)),
                     Product.stock <= threshold)
    ok = stmt.where(Product.stock > threshold)
    out_total, low_total = _count(out), _count(low)
    parts = [(out, out_total), (low, low_total), (ok, total - out_total - low_total)]
    by_name = [(Product.name, False), (Product.id, False)]
    ids = []
    for part, count in (reversed(parts) if descending else parts):
        if offset >= count:
            offset -= count
            continue
        ids += _page_ids(part, by_name, offset, limit - len(ids), count)
        offset = 0
        if len(ids) >= limit:
            break
    return ids


def list_products(client_id, stock="all", q=None, category_id=None, page=1, per_page=20, sort="name",
                  dir="asc", now=None, total=None, location_id=None, ids=None):
    """One page of the shop's active products and the total that match, sorted by name, stock or
    status (out, low, ok), then by name. `total`: the count when the caller already has it (the
    products page's tab counts), so that it is not counted twice. With `location_id` (or `ids`,
    the locations a person is limited to), stock is counted there: see `View`."""
    view = View.of(client_id, location_id, ids)
    if view is not None:
        return view.list_products(client_id, stock, q, category_id, page, per_page, sort, dir, now or utcnow())
    stmt, threshold = _listing(client_id, stock, now or utcnow())
    if q:
        q = q.lower()
        stmt = stmt.where(or_(func.lower(Product.name).contains(q, autoescape=True),
                              func.lower(Product.sku).contains(q, autoescape=True)))
    if category_id is not None:
        stmt = stmt.where(Product.category_id == category_id)
    if total is None:
        total = _count(stmt)
    offset, descending = (page - 1) * per_page, dir == "desc"
    if sort == "status":
        if stock not in ("low", "soon"):
            stmt = _with_category(stmt)
        ids = _status_page_ids(client_id, stmt, threshold, descending, offset, per_page, total)
    else:
        keys = [(Product.name, descending)] if sort == "name" else [(Product.stock, descending), (Product.name, False)]
        ids = _page_ids(stmt, keys + [(Product.id, False)], offset, per_page, total)
    rows = {p.id: p for p in db.session.execute(for_shop(Product, client_id).where(Product.id.in_(ids))).scalars()}
    return [rows[i] for i in ids], total


def status_counts(client_id, now=None, location_id=None, ids=None):
    """{filter: how many active products it matches} for the products page's tabs: a count each,
    read from the products' indexes (low: the range of stock up to the highest threshold)."""
    now = now or utcnow()
    view = View.of(client_id, location_id, ids)
    if view is not None:
        return view.status_counts(client_id, now)
    shop_default = shop_threshold(client_id)
    bound = threshold_bound(client_id, shop_default)
    names = ("all", "out", "low", "soon", "snoozed")
    counts = [_listing(client_id, name, now, shop_default, bound)[0]
              .with_only_columns(func.count(), maintain_column_froms=True).order_by(None).scalar_subquery()
              for name in names]
    return dict(zip(names, db.session.execute(select(*counts)).one()))  # one round trip


def count_matching(client_id, stock, now):
    """How many active products one stock filter of the products page matches."""
    return _count(_listing(client_id, stock, now)[0])


@dataclass(frozen=True)
class View:
    """A list whose stock is not the whole shop's: one location's, or the sum over the locations a
    person is limited to. (The whole shop's lists read the products' own indexes, above.)"""
    stock: object
    threshold: object
    location_id: int | None = None
    ids: tuple | None = None

    @classmethod
    def of(cls, client_id, location_id=None, ids=None):
        """The view, or None for the whole shop's."""
        if location_id is None and ids is not None and len(ids) == 1:
            location_id = ids[0]
        if location_id is None and ids is None:
            return None
        shop = shop_threshold(client_id)
        if location_id is not None:
            return cls(ProductStock.stock, sql_effective_threshold(ProductStock.low_stock_threshold,
                                                                   Product.low_stock_threshold,
                                                                   Category.low_stock_threshold, shop), location_id)
        summed = (select(func.coalesce(func.sum(ProductStock.stock), 0))
                  .where(ProductStock.product_id == Product.id, ProductStock.location_id.in_(ids))
                  .correlate(Product).scalar_subquery())
        threshold = sql_effective_threshold(Product.low_stock_threshold, Category.low_stock_threshold, shop)
        return cls(summed, threshold, None, tuple(ids))

    def products(self, client_id):
        stmt = (for_shop(Product, client_id).outerjoin(Category, Category.id == Product.category_id)
                .where(Product.active.is_(True)))
        if self.location_id is not None:
            return stmt.join(ProductStock, and_(ProductStock.product_id == Product.id,
                                                ProductStock.location_id == self.location_id))
        carried = select(ProductStock.id).where(ProductStock.product_id == Product.id,
                                                ProductStock.location_id.in_(self.ids))
        return stmt.where(carried.exists())

    def listing(self, client_id, stock, now):
        """(the active products matching a stock filter, their effective threshold), as _listing."""
        threshold, level = self.threshold, self.stock
        stmt = self.products(client_id)
        if stock == "low":
            stmt = stmt.where(level <= threshold)
        elif stock == "out":
            stmt = stmt.where(level <= 0)
        elif stock == "snoozed":
            stmt = stmt.where(_sql_snoozed(now))
        elif stock == "soon":
            timezone, days, window = _forecast(client_id)
            if days <= 0:
                return stmt.where(false()), threshold
            first_day = sales.window_first_day(timezone, window, now)
            if self.location_id is not None:
                place = SalesDaily.location_id == self.location_id
            else:
                place = SalesDaily.location_id.in_(self.ids)
            sold = sales.units_sold(first_day, and_(SalesDaily.client_id == client_id, place))
            stmt = (stmt.join(sold, and_(sold.c.product_id == Product.id, sold.c.client_id == Product.client_id))
                    .where(level > threshold, rules.sql_days_left(level, sold.c.units, window) <= days))
        return stmt, threshold

    def list_products(self, client_id, stock, q, category_id, page, per_page, sort, dir, now):
        stmt, threshold = self.listing(client_id, stock, now)
        if q:
            q = q.lower()
            stmt = stmt.where(or_(func.lower(Product.name).contains(q, autoescape=True),
                                  func.lower(Product.sku).contains(q, autoescape=True)))
        if category_id is not None:
            stmt = stmt.where(Product.category_id == category_id)
        total = db.session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
        rank = case((self.stock <= 0, 0), (self.stock <= threshold, 1), else_=2)
        key = {"name": Product.name, "stock": self.stock, "status": rank}[sort]
        order = [key.desc() if dir == "desc" else key.asc()]
        if sort != "name":
            order.append(Product.name)
        items = db.session.execute(
            stmt.order_by(*order, Product.id).limit(per_page).offset((page - 1) * per_page)).scalars().all()
        return items, total

    def status_counts(self, client_id, now):
        stmt, threshold = self.listing(client_id, "all", now)
        all_, low, out, snoozed = db.session.execute(stmt.with_only_columns(
            func.count(), func.count().filter(self.stock <= threshold), func.count().filter(self.stock <= 0),
            func.count().filter(_sql_snoozed(now)))).one()
        soon_stmt, _ = self.listing(client_id, "soon", now)
        soon = db.session.execute(select(func.count()).select_from(soon_stmt.subquery())).scalar_one()
        return {"all": all_, "out": out, "low": low, "soon": soon, "snoozed": snoozed}


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
