"""StockMonitorService: the daemon thread that runs the alert scan over every shop on a timer."""
import logging

from sqlalchemy import func, select

from ..dialect import name as dialect_name
from ..extensions import db
from ..periodic import PeriodicWorker
from ..retail import windows
from .service import raise_alerts

log = logging.getLogger(__name__)
ADVISORY_LOCK_KEY = 0x5374_6B42  # "StkB": one scanner among several processes on PostgreSQL


def run_cycle():
    """One scan of every shop, in its own transaction. Returns the new alerts, or None when
    another process holds the scan lock (PostgreSQL)."""
    windows.roll_and_commit()  # in its own transaction: the scan's locks are not held meanwhile
    try:
        if dialect_name() == "postgresql":
            got = db.session.execute(select(func.pg_try_advisory_xact_lock(ADVISORY_LOCK_KEY))).scalar_one()
            if not got:
                db.session.rollback()
                log.info("another process is scanning; skipped this cycle")
                return None
        new = raise_alerts()
        db.session.commit()
        return new
    except Exception:
        db.session.rollback()
        raise


class StockMonitorService(PeriodicWorker):
    """The daemon thread: every STOCK_MONITOR_INTERVAL seconds, one run_cycle()."""

    thread_name = "stock-monitor"

    def __init__(self, app, interval=None, initial_delay=None):
        super().__init__(
            app,
            interval if interval is not None else app.config["STOCK_MONITOR_INTERVAL"],
            initial_delay if initial_delay is not None else app.config["STOCK_MONITOR_INITIAL_DELAY"],
        )
        self.last_created = 0

    def cycle(self):
        new = run_cycle()
        self.last_created = len(new or [])
        return new
