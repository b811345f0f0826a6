"""What the monitor benches time, one thing at a time: the cycle as the thread runs it, one kind's
rule alone, a cycle under tracemalloc, a warm cache, and the day's roll of the forecast windows.
bench/monitor_scan.py and bench/growth.py put them together."""
import time
import tracemalloc
from collections import Counter
from datetime import timedelta

from sqlalchemy import text, update

from modules.alerts.kinds import KINDS
from modules.alerts.models import StockAlertLog
from modules.alerts.monitor import run_cycle
from modules.alerts.scan import LOG_COLUMNS, Scan
from modules.dialect import insert
from modules.extensions import db
from modules.retail import windows
from modules.retail.models import SalesWindow
from modules.timeutil import local_date, utcnow


def time_cycle():
    """The monitor's cycle as the thread runs it: raise_alerts() and its commit.
    Returns (seconds, {kind: new alerts})."""
    started = time.perf_counter()
    new = run_cycle()
    elapsed = time.perf_counter() - started
    db.session.remove()
    if new is None:
        raise RuntimeError("run_cycle() skipped: another process holds the scan lock")
    return elapsed, dict(Counter(alert.kind for alert in new))


def time_rule(kind):
    """One kind's rule alone, as the cycle runs it (modules/alerts/service.py, _log_new): its
    INSERT ... SELECT into the daily log, ON CONFLICT DO NOTHING RETURNING the new rows, committed.
    Every shop is on UTC, so this is the whole scan for that kind. Returns (seconds, new rows)."""
    now = utcnow()
    started = time.perf_counter()
    rows = 0
    scan = Scan("UTC", local_date("UTC", now), now).of(kind)
    for source in KINDS[kind].rule(scan):
        stmt = (insert(StockAlertLog).from_select(LOG_COLUMNS, source)
                .on_conflict_do_nothing(index_elements=["client_id", "product_id", "location_id", "kind", "alert_date"])
                .returning(StockAlertLog.id, StockAlertLog.client_id, StockAlertLog.product_id, StockAlertLog.kind,
                           StockAlertLog.stock_level, StockAlertLog.threshold_level, StockAlertLog.days_left))
        rows += len(db.session.connection().execute(stmt).all())
    db.session.commit()
    elapsed = time.perf_counter() - started
    db.session.remove()
    return elapsed, rows


def traced_cycle():
    """(new alerts, tracemalloc peak in bytes) of one cycle."""
    tracemalloc.start()
    try:
        new = run_cycle()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        db.session.remove()
    return len(new or []), peak


def warm_up():
    """Connect, and read the products and the daily sales once, so that no measurement pays for a cold cache."""
    with db.engine.connect() as conn:
        conn.execute(text("SELECT count(*), sum(stock) FROM products")).one()
        conn.execute(text("SELECT count(*), sum(units) FROM sales_daily")).one()  # the forecast's input
    db.session.execute(text("SELECT 1"))
    db.session.remove()


ROLLS = {}  # database -> (recount s, slide s): the day's roll of every shop's forecast windows


def time_rolls():
    """The day's roll (retail.windows), done before the timed cycles as the first cycle or request
    of a shop-local day does it: a recount of every shop's windows from the rollup, then a slide
    (as if the last roll was yesterday's: add a day, drop a day), then a recount again so that the
    windows are right. Returns (recount s, slide s)."""
    started = time.perf_counter()
    windows.roll()
    db.session.commit()
    recount = time.perf_counter() - started
    today = local_date("UTC", utcnow())  # every bench shop is in UTC
    db.session.execute(update(SalesWindow).values(window_day=today - timedelta(days=1)))
    db.session.commit()
    started = time.perf_counter()
    windows.roll()
    db.session.commit()
    slide = time.perf_counter() - started
    db.session.execute(update(SalesWindow).values(window_days=0))
    db.session.commit()
    windows.roll()
    db.session.commit()
    db.session.remove()
    if db.engine.dialect.name == "postgresql":  # what autovacuum does after a roll rewrote the rows
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE product_stock"))
            conn.execute(text("VACUUM ANALYZE products"))
    return recount, slide
