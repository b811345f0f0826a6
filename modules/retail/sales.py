"""A product's own sales, the forecast's input: the daily rollup (sales_daily) written with every
sale movement, and the units sold in a window read from it, per product (and place), in one
statement for any number of products. Nothing reads the raw sale movements for a forecast."""
from collections import Counter
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.sql.visitors import replacement_traverse

from ..auth.models import Client
from ..dialect import insert
from ..extensions import db
from ..timeutil import local_date, utcnow
from .models import SalesDaily

DEFAULT_WINDOW_DAYS = 28
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


def units_by_place(client_id, timezone, window, product_ids, now=None):
    """{(product id, location id): units sold in the window} for some of one shop's products."""
    first_day = window_first_day(timezone, window, now or utcnow())
    sold = units_sold(first_day, SalesDaily.client_id == client_id, list(product_ids), by_location=True)
    return {(pid, lid): units for pid, lid, units in db.session.execute(
        select(sold.c.product_id, sold.c.location_id, sold.c.units))}
