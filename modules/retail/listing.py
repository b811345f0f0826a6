"""The products list and its counts: the shop's active products filtered by stock status (all,
low, out, running out, snoozed), searched, sorted and paged. The whole shop's lists read the
products' own indexes (counts from the index alone, pages by a deferred join); a location's, or
the sum over the locations a person is limited to, goes through `View`."""
from dataclasses import dataclass

from sqlalchemy import and_, case, false, func, or_, select

from ..auth.models import Client, NotificationSettings
from ..auth.settings import shop_threshold
from ..auth.tenancy import for_shop, owned_by
from ..dialect import text_search
from ..extensions import db
from ..timeutil import utcnow
from . import rules, sales
from .models import Category, Product, ProductStock
from .rules import sql_effective_threshold


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
        sold, stmt = sales.window_units(stmt, client_id, timezone, window, now, horizon=days)
        stmt = stmt.where(sold > 0, Product.stock > threshold, rules.sql_days_left(Product.stock, sold, window) <= days)
    return stmt, threshold


def _with_category(stmt):
    """`stmt` joined to what the effective threshold reads; only where a filter or the order needs
    it (SQLite does not drop an unused outer join, and then cannot count from an index alone)."""
    return stmt.outerjoin(Category, Category.id == Product.category_id)


def _snoozed_parts(now):
    """Muted; not muted and snoozed until after `now`: two ranges of (client_id, active, muted,
    snoozed_until), never both true, so that the index answers each (the negated rule would read
    every product)."""
    return Product.muted.is_(True), and_(Product.muted.is_(False), Product.snoozed_until > now)


def _sql_snoozed(now):
    """Muted, or snoozed until after `now`."""
    return or_(*_snoozed_parts(now))


def _searched(q):
    """A search: `q` is part of the name or the SKU, whatever its case."""
    return text_search((Product.name, Product.sku), q.lower())


FEW_FOUND = 100


def _few_found(stmt):
    """A search that finds few products (a SKU, a rare word): (the same list read by those ids,
    how many) from one pass over the search's index, so that neither the count nor the page
    walks the shop's sorted index looking for rare matches; else (stmt, None), after reading no
    more than FEW_FOUND + 1 matches."""
    found = db.session.execute(stmt.with_only_columns(Product.id, maintain_column_froms=True)
                               .order_by(None).limit(FEW_FOUND + 1)).scalars().all()
    if len(found) > FEW_FOUND:
        return stmt, None
    return stmt.where(Product.id.in_(found)), len(found)


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
        stmt = stmt.where(_searched(q))
    if category_id is not None:
        stmt = stmt.where(Product.category_id == category_id)
    if q and total is None:
        stmt, total = _few_found(stmt)
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
    return count_matching(client_id, ("all", "out", "low", "soon", "snoozed"), now)


def count_matching(client_id, names, now, shop_default=None, bound=None):
    """{filter: how many active products of the whole shop it matches} for the stock filters
    `names`, in one round trip (each count from an index alone where its filter allows).
    `shop_default` and `bound` (threshold_bound()) when the caller has them already."""
    if shop_default is None:
        shop_default = shop_threshold(client_id)
    if bound is None and "low" in names:
        bound = threshold_bound(client_id, shop_default)

    def counted(stmt):
        return stmt.with_only_columns(func.count(), maintain_column_froms=True).order_by(None).scalar_subquery()

    counts = []
    for name in names:
        if name == "snoozed":
            # Its two parts counted apart and added: each from the index alone, where PostgreSQL
            # answers their OR from the table's pages.
            every = _listing(client_id, "all", now)[0]
            muted, snoozed = (counted(every.where(part)) for part in _snoozed_parts(now))
            counts.append(muted + snoozed)
        else:
            counts.append(counted(_listing(client_id, name, now, shop_default, bound)[0]))
    return dict(zip(names, db.session.execute(select(*counts)).one()))


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
            sold, stmt = sales.window_units(stmt, client_id, timezone, window, now, self.location_id, self.ids,
                                             horizon=days)
            stmt = stmt.where(sold > 0, level > threshold, rules.sql_days_left(level, sold, window) <= days)
        return stmt, threshold

    def list_products(self, client_id, stock, q, category_id, page, per_page, sort, dir, now):
        stmt, threshold = self.listing(client_id, stock, now)
        if q:
            stmt = stmt.where(_searched(q))
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
