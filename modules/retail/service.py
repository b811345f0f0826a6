"""Products, categories and stock changes, without a request: the routes, the CLI, the demo seed
and the tests call these. Callers pass a client_id they already trust."""
from sqlalchemy import and_, column, false, func, or_, select, table, update
from sqlalchemy.exc import IntegrityError

from ..auth.models import DEFAULT_THRESHOLD, Client, NotificationSettings
from ..auth import audit
from ..auth.settings import shop_threshold
from ..auth.tenancy import for_shop, owned_by
from ..dialect import insert
from ..errors import ApiError, ValidationError
from ..extensions import db
from ..timeutil import isoformat, utcnow
from . import rules, sales
from .models import MAX_STOCK, Category, Product, StockMovement
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


def product_dicts(client_id, products, now=None):
    """The products as the API shows them: effective threshold and its source, status, snooze,
    and days left at their own rate of sales (one query for all of them)."""
    now = now or utcnow()
    timezone, shop_default, window = db.session.execute(
        select(Client.timezone, NotificationSettings.low_stock_threshold, NotificationSettings.forecast_window_days)
        .outerjoin(NotificationSettings, NotificationSettings.client_id == Client.id)
        .where(Client.id == client_id)).one()
    shop_default = DEFAULT_THRESHOLD if shop_default is None else shop_default
    days = sales.days_left_of(client_id, timezone, window or sales.DEFAULT_WINDOW_DAYS, products, now)
    suppliers = supplier_names(client_id, [p.supplier_id for p in products])
    out = []
    for product in products:
        category_threshold = product.category.low_stock_threshold if product.category else None
        threshold = effective_threshold(product.low_stock_threshold, category_threshold, shop_default)
        snoozed = rules.is_snoozed(product.snoozed_until, product.muted, now)
        out.append({
            "id": product.id,
            "name": product.name,
            "sku": product.sku,
            "category": product.category.to_dict() if product.category else None,
            "stock": product.stock,
            "low_stock_threshold": product.low_stock_threshold,
            "effective_threshold": threshold,
            "threshold_source": threshold_source(product.low_stock_threshold, category_threshold),
            "status": stock_status(product.stock, threshold, product.active),
            "active": product.active,
            "snoozed_until": isoformat(product.snoozed_until) if snoozed and not product.muted else None,
            "muted": product.muted,
            "days_left": days.get(product.id),
            "supplier": ({"id": product.supplier_id, "name": suppliers[product.supplier_id]}
                         if product.supplier_id in suppliers else None),
            "cost_price": _money(product.cost_price),
            "sell_price": _money(product.sell_price),
            "reorder_quantity": product.reorder_quantity,
            "max_stock": product.max_stock,
            "pack_size": product.pack_size,
        })
    return out


def product_dict(product, now=None):
    return product_dicts(product.client_id, [product], now)[0]


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
        sold = sales.units_sold(rules.sales_window_start(timezone, window, now), StockMovement.client_id == client_id)
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
                  dir="asc", now=None, total=None):
    """One page of the shop's active products and the total that match, sorted by name, stock or
    status (out, low, ok), then by name. `total`: the count when the caller already has it (the
    products page's tab counts), so that it is not counted twice."""
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


def status_counts(client_id, now=None):
    """{filter: how many active products it matches} for the products page's tabs: a count each,
    read from the products' indexes (low: the range of stock up to the highest threshold)."""
    now = now or utcnow()
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


def _sku_conflict():
    return ApiError(409, "Another product of this shop already has this SKU.", {"sku": "Already used."})


def create_product(client_id, user_id, name, sku=None, category=None, stock=0, low_stock_threshold=None,
                   **purchasing):
    """A new product; `purchasing` holds its supplier_id, prices, reorder quantity, max stock and
    pack size when given."""
    check_supplier(client_id, purchasing)
    product = Product(
        client_id=client_id, name=name, sku=sku, stock=0, low_stock_threshold=low_stock_threshold,
        category=category_by_name(client_id, category) if category else None, **purchasing,
    )
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
        _, alert = change_stock(product, user_id, delta=stock, reason="initial")
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


def change_stock(product, user_id, reason, delta=None, quantity=None, source="app", note=None):
    """Change stock by `delta` or to `quantity`, record the movement (made through `source`, with
    an optional `note` such as a purchase order's number), and
    check for an alert, all in the caller's transaction. Returns (product, the alert it raised for
    `user_id` as a JSON-ready dict, or None)."""
    allow_negative = product.client.allow_negative_stock
    if quantity is not None:
        delta = quantity - product.stock
    stmt = (
        update(Product)
        .where(Product.id == product.id, owned_by(Product, product.client_id))
        .values(stock=Product.stock + delta, updated_at=utcnow())
        .returning(Product.stock)
    )
    # The bounds are in the UPDATE, so two changes at once cannot together pass them.
    stmt = stmt.where(Product.stock + delta <= MAX_STOCK)
    stmt = stmt.where(Product.stock + delta >= (-MAX_STOCK if allow_negative else 0))
    new_stock = db.session.execute(stmt, execution_options={"synchronize_session": False}).scalar_one_or_none()
    if new_stock is None:
        db.session.refresh(product)
        field = "quantity" if quantity is not None else "delta"
        if product.stock + delta > MAX_STOCK:
            raise ValidationError({field: f"Stock cannot go above {MAX_STOCK:,} (now {product.stock})."},
                                  f"Stock cannot go above {MAX_STOCK:,}.")
        if allow_negative:
            raise ValidationError({field: f"Stock cannot go below -{MAX_STOCK:,}."}, "Stock is out of range.")
        raise ValidationError({field: f"Stock cannot go below zero (only {product.stock} in stock)."},
                              "Stock cannot go below zero.")
    db.session.add(StockMovement(client_id=product.client_id, product_id=product.id, delta=delta,
                                 stock_after=new_stock, reason=reason, user_id=user_id,
                                 source=source, note=note))
    db.session.flush()
    db.session.refresh(product)
    if user_id is None:  # a till's token: no one's bell to answer from, so the alert as raised
        raised = announce_stock_change(product.client_id, [product.id], every=True) or []
        return product, (raised[0] if raised else None)
    return product, announce_stock_change(product.client_id, [product.id], user_id)

