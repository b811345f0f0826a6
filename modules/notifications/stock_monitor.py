"""StockMonitorService: the daemon thread that runs the alert scan over every shop on a timer."""
import logging
import threading
import time

from sqlalchemy import func, select

from ..dialect import name as dialect_name
from ..extensions import db
from ..timeutil import isoformat, utcnow
from .alerts import raise_alerts

log = logging.getLogger(__name__)
ADVISORY_LOCK_KEY = 0x5374_6B42  # "StkB": one scanner among several processes on PostgreSQL


def run_cycle():
    """One scan of every shop, in its own transaction. Returns the new alerts, or None when
    another process holds the scan lock (PostgreSQL)."""
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


class StockMonitorService:
    def __init__(self, app, interval=None, initial_delay=None):
        self.app = app
        self.interval = float(interval if interval is not None else app.config["STOCK_MONITOR_INTERVAL"])
        self.initial_delay = float(
            initial_delay if initial_delay is not None else app.config["STOCK_MONITOR_INITIAL_DELAY"])
        self._stop = threading.Event()
        self._thread = None
        self.cycles = 0
        self.errors = 0
        self.last_run_at = None
        self.last_duration_ms = None
        self.last_error = None
        self.last_created = 0

    @property
    def running(self):
        return self._thread is not None and self._thread.is_alive()

    def start(self):
        if self.running:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="stock-monitor", daemon=True)
        self._thread.start()
        log.info("stock monitor started (every %ss)", self.interval)

    def stop(self, timeout=10):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        log.info("stock monitor stopped")

    def run_once(self):
        """One cycle in its own app context and session; failures are recorded, not raised."""
        started = time.perf_counter()
        with self.app.app_context():
            try:
                new = run_cycle()
                self.last_error = None
                self.last_created = len(new or [])
                return new
            except Exception as e:
                self.errors += 1
                self.last_error = f"{type(e).__name__}: {e}"[:500]
                log.exception("stock monitor cycle failed")
                return None
            finally:
                db.session.remove()
                self.cycles += 1
                self.last_run_at = utcnow()
                self.last_duration_ms = round((time.perf_counter() - started) * 1000, 1)

    def _loop(self):
        if self._stop.wait(self.initial_delay):
            return
        while not self._stop.is_set():
            self.run_once()
            self._stop.wait(self.interval)

    def status(self):
        return {
            "running": self.running,
            "interval_seconds": self.interval,
            "last_run_at": isoformat(self.last_run_at),
            "last_duration_ms": self.last_duration_ms,
            "last_error": self.last_error,
            "cycles": self.cycles,
            "errors": self.errors,
        }
