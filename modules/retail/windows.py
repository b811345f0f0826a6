"""The forecast's window kept on the places and products themselves, so that no reader sums the
rollup's ~27 rows per place on every scan or page (issue 18).

A window at the shop-local date T is the units sold on T and on the `window - 1` days before it.
Each place (`product_stock`) and product (`products`, over all its places) keeps:
- `sold_before`: the units sold on the window's days before T, rolled once a shop-local day by
  `roll()` (from the rollup: a whole recount, or a slide that adds yesterday and drops the day that
  left the window when the last roll was yesterday's);
- `sold_today` and `sold_on`: the units sold on the latest day with sales, bumped by every sale in
  its own transaction (`bump()`, called by sales.record_sales). A roll never writes them, so a sale
  and a roll never overwrite each other's work.

`sales_windows` says, per shop, the day and window length its `sold_before` were rolled for.
Readers use the stored windows only for the shops whose row names their today and window
(`current_shops()`, `is_current()`) and read the rollup for the others, so a window is never wrong,
only slower until the monitor's next cycle or the shop's next request rolls it."""
import logging
from collections import defaultdict
from datetime import timedelta
from decimal import ROUND_CEILING, Decimal

from sqlalchemy import Float, Numeric, and_, bindparam, case, delete, func, literal, literal_column, select, update

from ..auth.models import Client, NotificationSettings
from ..dialect import insert
from ..extensions import db
from ..timeutil import local_date, utcnow
from .models import Product, ProductStock, SalesDaily, SalesWindow

log = logging.getLogger(__name__)
DEFAULT_WINDOW_DAYS = 28
CHUNK = 100  # shops per roll's statement (and per transaction in roll_and_commit: a short hold on their rows)


def units(model, today):
    """The units sold in the window at `today` of a `product_stock` or `products` row, NULL for
    none (as a join to the rollup finds no row: a rate divides by it). Correct only for a shop
    whose windows are current: see current_shops."""
    return func.nullif(model.sold_before + case((model.sold_on == today, model.sold_today), else_=0), 0)


def cover(model):
    """A place's stock over the units it sold in its window, counting its newest day's units even
    when they are older than today (so never more than the true ratio): the forecast's first
    sieve, read from an index on this very expression (`product_stock`: ix_product_stock_cover,
    migration 0016w; `products`: ix_products_client_cover, 0017p). NULL where nothing sold."""
    # Spelled as the index is: SQLAlchemy's `/` would add "+ 0.0", and a bound 0 would not match.
    table = model.__tablename__
    return literal_column(f"({table}.stock * 1.0 / NULLIF({table}.sold_before + {table}.sold_today, 0))", Float)


def short_cover(model, horizon, window):
    """The places (or products) whose cover is short enough that days_left <= `horizon` may hold:
    days_left <= H means stock / units < (H + 1) / window, and cover() is never more than that
    ratio. A sieve read from the cover index; the caller still applies the exact rule."""
    # A decimal rounded up, not a float: PostgreSQL's cover is numeric, and numeric <= float8
    # compares as float8, which no index answers.
    bound = (Decimal(horizon + 1) / Decimal(window)).quantize(Decimal("1e-18"), rounding=ROUND_CEILING)
    return cover(model) <= literal(bound, Numeric(38, 18))


def current_shops(today, window):
    """SELECT client_id of the shops whose windows are rolled for `today` and `window` days."""
    return select(SalesWindow.client_id).where(SalesWindow.window_day == today, SalesWindow.window_days == window)


def is_current(client_id, today, window):
    return db.session.execute(current_shops(today, window).where(SalesWindow.client_id == client_id)).first() is not None


def bump(client_id, units_by_place, day, timezone, now=None):
    """Add units sold on the shop-local `day` to their places' and products' `sold_today` (a
    newer day starts the count again; an older one, a till's late history, leaves it and marks
    the shop's windows for a recount). In the caller's transaction."""
    by_product = defaultdict(int)
    for (product_id, _), n in units_by_place.items():
        by_product[product_id] += n
    for table, rows, where in (
            (ProductStock.__table__, [{"b_pid": p, "b_lid": loc, "b_units": n}
                                      for (p, loc), n in sorted(units_by_place.items())],
             lambda t: and_(t.c.product_id == bindparam("b_pid"), t.c.location_id == bindparam("b_lid"))),
            (Product.__table__, [{"b_pid": p, "b_units": n} for p, n in sorted(by_product.items())],
             lambda t: t.c.id == bindparam("b_pid"))):
        if not rows:
            continue
        added = bindparam("b_units")
        db.session.execute(update(table).where(where(table)).values(
            sold_today=case((table.c.sold_on == day, table.c.sold_today + added),
                            (table.c.sold_on > day, table.c.sold_today), else_=added),
            sold_on=case((table.c.sold_on > day, table.c.sold_on), else_=day)), rows)
    if day < local_date(timezone, now or utcnow()):
        db.session.execute(delete(SalesWindow).where(SalesWindow.client_id == client_id))


# --- the daily roll -------------------------------------------------------------------------------

def roll(now=None, client_id=None, each_chunk=None):
    """Roll the windows of every shop (or one) whose windows are not current: a slide when they
    were rolled yesterday for the same window, else a recount. Returns the number of shops rolled.
    In the caller's transaction (`each_chunk`, when given, is called after each chunk of shops);
    shops another process rolled meanwhile are left alone."""
    now = now or utcnow()
    stmt = (select(Client.id, Client.timezone,
                   func.coalesce(NotificationSettings.forecast_window_days, DEFAULT_WINDOW_DAYS),
                   SalesWindow.window_day, SalesWindow.window_days)
            .outerjoin(NotificationSettings, NotificationSettings.client_id == Client.id)
            .outerjoin(SalesWindow, SalesWindow.client_id == Client.id))
    if client_id is not None:
        stmt = stmt.where(Client.id == client_id)
    todays, due = {}, defaultdict(list)
    for shop, timezone, window, day, days in db.session.execute(stmt):
        today = todays.get(timezone) or todays.setdefault(timezone, local_date(timezone, now))
        if day == today and days == window:
            continue
        slide = days == window and day == today - timedelta(days=1)
        due[(today, window, slide)].append(shop)
    rolled = 0
    for (today, window, slide), shops in due.items():
        for start in range(0, len(shops), CHUNK):
            claimed = _claim(shops[start:start + CHUNK], today, window, slide)
            if claimed:
                (_slide if slide else _recount)(claimed, today, window)
                rolled += len(claimed)
                if each_chunk is not None:
                    each_chunk()
    return rolled


def roll_and_commit(client_id=None, now=None):
    """roll() in transactions of its own, one per chunk of shops, so that no stock change waits
    long for the rows being rolled (the monitor's cycle, a request's first step); a failure
    (another process rolling the same rows) is logged and left to the next try: readers fall
    back to the rollup meanwhile."""
    try:
        roll(now, client_id, each_chunk=db.session.commit)
    except Exception:  # noqa: BLE001 - the page must not fail for an optimisation
        db.session.rollback()
        log.warning("rolling the sales windows of shop %s failed", client_id, exc_info=True)


_current = {}  # (database, client id) -> (time zone, shop-local day) this process last rolled or found current


def roll_for_request(client_id):
    """A request's first step: roll its shop's windows when its day turned since this process last
    looked (one look-up a shop a day, then nothing)."""
    now = utcnow()
    key = (str(db.engine.url), client_id)  # one process may serve several databases (the tests)
    known = _current.get(key)
    if known is not None and local_date(known[0], now) == known[1]:
        return
    try:
        timezone = db.session.execute(select(Client.timezone).where(Client.id == client_id)).scalar_one()
    except Exception:  # noqa: BLE001 - the database's outage is the page's to answer
        db.session.rollback()
        return
    roll_and_commit(client_id, now)
    _current[key] = (timezone, local_date(timezone, now))


def _claim(shops, today, window, slide):
    """Mark the shops' windows as rolled for `today`, only where they are not already (and, for a
    slide, only where they were rolled yesterday): the ids this roller may roll."""
    if slide:
        stmt = (update(SalesWindow).where(SalesWindow.client_id.in_(shops),
                                          SalesWindow.window_day == today - timedelta(days=1),
                                          SalesWindow.window_days == window)
                .values(window_day=today).returning(SalesWindow.client_id))
    else:
        stmt = insert(SalesWindow).values([{"client_id": c, "window_day": today, "window_days": window}
                                           for c in shops])
        stmt = stmt.on_conflict_do_update(
            index_elements=["client_id"],
            set_={"window_day": stmt.excluded.window_day, "window_days": stmt.excluded.window_days},
            where=(SalesWindow.window_day != stmt.excluded.window_day)
            | (SalesWindow.window_days != stmt.excluded.window_days)).returning(SalesWindow.client_id)
    return sorted(db.session.execute(stmt).scalars())


def _apply(sums, keys, set_value):
    """UPDATE product_stock and products from `sums` (a SELECT over sales_daily grouped by `keys`
    with a `units` column), one statement each: `set_value(column, units)` is the new value. A
    roll is upkeep, not a change: `updated_at` keeps its value (its `onupdate` would stamp it)."""
    places = sums.group_by(*keys).subquery("sums")
    ps = ProductStock.__table__
    db.session.execute(update(ps).where(ps.c.product_id == places.c.product_id,
                                        ps.c.location_id == places.c.location_id)
                       .values(sold_before=set_value(ps.c.sold_before, places.c.units), updated_at=ps.c.updated_at),
                       execution_options={"synchronize_session": False})
    products = (select(places.c.product_id, func.sum(places.c.units).label("units"))
                .group_by(places.c.product_id).subquery("product_sums"))
    pt = Product.__table__
    db.session.execute(update(pt).where(pt.c.id == products.c.product_id)
                       .values(sold_before=set_value(pt.c.sold_before, products.c.units), updated_at=pt.c.updated_at),
                       execution_options={"synchronize_session": False})


def _recount(shops, today, window):
    """sold_before = the units of the window's days before `today`, from the rollup."""
    for model in (ProductStock, Product):
        db.session.execute(update(model).where(model.client_id.in_(shops), model.sold_before != 0)
                           .values(sold_before=0, updated_at=model.updated_at),
                           execution_options={"synchronize_session": False})
    if window <= 1:
        return
    sums = (select(SalesDaily.product_id, SalesDaily.location_id, func.sum(SalesDaily.units).label("units"))
            .where(SalesDaily.client_id.in_(shops), SalesDaily.sale_date >= today - timedelta(days=window - 1),
                   SalesDaily.sale_date < today))
    _apply(sums, [SalesDaily.product_id, SalesDaily.location_id], lambda column, n: n)


def _slide(shops, today, window):
    """sold_before += yesterday's units - the units of the day that left the window."""
    if window <= 1:
        return
    yesterday, gone = today - timedelta(days=1), today - timedelta(days=window)
    change = func.sum(case((SalesDaily.sale_date == yesterday, SalesDaily.units), else_=-SalesDaily.units))
    sums = (select(SalesDaily.product_id, SalesDaily.location_id, change.label("units"))
            .where(SalesDaily.client_id.in_(shops), SalesDaily.sale_date.in_([yesterday, gone])))
    _apply(sums, [SalesDaily.product_id, SalesDaily.location_id], lambda column, n: column + n)
