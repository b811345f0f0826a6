"""A product's own sales, the forecast's input: the daily rollup (sales_daily) written with every
sale movement, and the units sold in a window read from it, per product (and place), in one
statement for any number of products. Nothing reads the raw sale movements for a forecast."""
from collections import Counter
from datetime import timedelta

from sqlalchemy import and_, func, select
from sqlalchemy.sql.visitors import replacement_traverse

from ..auth.models import Client
from ..dialect import insert
from ..extensions import db
from ..timeutil import local_date, utcnow
from . import windows
from .models import Product, ProductStock, SalesDaily
from .windows import DEFAULT_WINDOW_DAYS  # noqa: F401 - its readers import it from here
SALE = "sale"


def is_counted_sale(reason, delta):
    """A sale the forecast counts: reason "sale" taking stock away. A positive "sale" (a till's
    correction) is recorded as a movement but never counted, as the forecast always did."""
    return reason == SALE and delta < 0


def record_sales(client_id, sales, at, timezone=None):
    """Add units sold to the shop's daily rollup, in the caller's transaction: `sales` is an
    iterable of (product id, location id, units) sold at the naive-UTC instant `at`, counted on
    the shop-local date of `at`. One statement for any number of them (rows in key order, so two
    writers never wait for each other in a circle)."""
    units = Counter()
    for product_id, location_id, sold in sales:
        units[(product_id, location_id)] += sold
    if not units:
        return
    if timezone is None:
        timezone = db.session.execute(select(Client.timezone).where(Client.id == client_id)).scalar_one()
    day = local_date(timezone, at)
    stmt = insert(SalesDaily)
    stmt = stmt.on_conflict_do_update(index_elements=["product_id", "location_id", "sale_date"],
                                      set_={"units": SalesDaily.units + stmt.excluded.units})
    db.session.execute(stmt, [{"client_id": client_id, "product_id": p, "location_id": loc, "sale_date": day,
                               "units": n} for (p, loc), n in sorted(units.items())])
    windows.bump(client_id, units, day, timezone)


def window_first_day(timezone, window, now):
    """The first shop-local date of a window of `window` days ending today (the shop's today at
    `now`): the same days as rules.sales_window_start's instant, as a date."""
    return local_date(timezone, now) - timedelta(days=window - 1)


def units_sold(first_day, client_filter, product_ids=None, by_location=False):
    """A subquery (client_id, product_id, units) of the units sold on or after the shop-local date
    `first_day` by the shops that `client_filter` (a WHERE clause on sales_daily's columns)
    selects; with `by_location`, (client_id, product_id, location_id, units), per place."""
    keys = [SalesDaily.client_id, SalesDaily.product_id]
    if by_location:
        keys.append(SalesDaily.location_id)
    day = SalesDaily.sale_date
    if product_ids is not None:
        # A few products (a page, a stock change): read by the UNIQUE key (product, place, day).
        # The shop and the date are wrapped so that SQLite, which has no statistics, cannot take
        # the covering (shop, day) index instead and read the shop's whole history for them.
        day = func.coalesce(SalesDaily.sale_date, SalesDaily.sale_date)
        shop = func.coalesce(SalesDaily.client_id, SalesDaily.client_id)
        client_filter = replacement_traverse(
            client_filter, {}, lambda e: shop if getattr(e, "table", None) is SalesDaily.__table__
            and getattr(e, "name", None) == "client_id" else None)
    stmt = (select(*keys, func.sum(SalesDaily.units).label("units"))
            .where(client_filter, day >= first_day)
            .group_by(*keys))
    if product_ids is not None:
        stmt = stmt.where(SalesDaily.product_id.in_(product_ids))
    return stmt.subquery("sales")


def window_units(stmt, client_id, timezone, window, now, location_id=None, ids=None, horizon=None):
    """(units sold in the window, `stmt`) for a list over one shop's `products`: the whole shop's
    units, or those at `location_id` (`stmt` has that place's `product_stock` row joined), or the
    sum over the locations `ids`. Read from the stored windows when the shop's are current, else
    from the rollup joined to `stmt` (products without sales in the window drop out). With
    `horizon` (the caller keeps only days_left <= horizon), `stmt` may also be narrowed by the
    cover index's sieve (windows.short_cover), so that the list reads only the short places."""
    today = local_date(timezone, now)
    if windows.is_current(client_id, today, window):
        if location_id is not None:
            if horizon is not None:
                stmt = stmt.where(windows.short_cover(ProductStock, horizon, window))
            return windows.units(ProductStock, today), stmt
        if ids is None:
            if horizon is not None:
                stmt = stmt.where(windows.short_cover(Product, horizon, window))
            return windows.units(Product, today), stmt
        summed = (select(func.sum(windows.units(ProductStock, today)))  # NULL without sales, as units()
                  .where(ProductStock.product_id == Product.id, ProductStock.location_id.in_(ids))
                  .correlate(Product).scalar_subquery())
        return summed, stmt
    shop = SalesDaily.client_id == client_id
    if location_id is not None or ids is not None:
        shop = and_(shop, SalesDaily.location_id.in_([location_id] if location_id is not None else ids))
    sold = units_sold(window_first_day(timezone, window, now), shop)
    return sold.c.units, stmt.join(sold, and_(sold.c.product_id == Product.id, sold.c.client_id == Product.client_id))


def place_units(client_id, timezone, window, now, product_ids=None):
    """(units sold in the window at each of one shop's places, the rollup's subquery to join to a
    statement over `product_stock` by product and location, or None): the stored windows' column
    when the shop's are current (nothing to join), else the rollup's sums (of `product_ids` only,
    when given)."""
    today = local_date(timezone, now)
    if windows.is_current(client_id, today, window):
        return windows.units(ProductStock, today), None
    sold = units_sold(window_first_day(timezone, window, now), SalesDaily.client_id == client_id, product_ids,
                      by_location=True)
    return sold.c.units, sold


def units_by_place(client_id, timezone, window, product_ids, now=None):
    """{(product id, location id): units sold in the window} for some of one shop's products."""
    product_ids = list(product_ids)
    units, sold = place_units(client_id, timezone, window, now or utcnow(), product_ids)
    if sold is None:
        stmt = select(ProductStock.product_id, ProductStock.location_id, units).where(
            ProductStock.client_id == client_id, ProductStock.product_id.in_(product_ids), units > 0)
    else:
        stmt = select(sold.c.product_id, sold.c.location_id, units)
    return {(pid, lid): n for pid, lid, n in db.session.execute(stmt)}
