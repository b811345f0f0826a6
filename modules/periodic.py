"""PeriodicWorker: a daemon thread that runs one cycle every few seconds in its own app context
and session, stops at once on an event, and reports its state for /health. The stock monitor
and the delivery dispatcher are both one of these."""
import logging
import threading
import time

from .extensions import db
from .outage import failure_kind, is_database_failure, report
from .timeutil import isoformat, utcnow

log = logging.getLogger(__name__)


class PeriodicWorker:
    thread_name = "worker"

    def __init__(self, app, interval, initial_delay=0.0):
        self.app = app
        self.interval = float(interval)
        self.initial_delay = float(initial_delay)
        self._stop = threading.Event()
        self._wake = threading.Event()  # set by stop() and wake(): ends the wait between cycles
        self._thread = None
        self.cycles = 0
        self.errors = 0
        self.last_run_at = None
        self.last_duration_ms = None
        self.last_error = None

    def cycle(self, **kwargs):
        """One unit of work, inside an app context; its result is what run_once() returns."""
        raise NotImplementedError

    def more_due(self, result) -> bool:
        """Whether to run again without waiting (work is still queued)."""
        return False

    @property
    def running(self):
        return self._thread is not None and self._thread.is_alive()

    def start(self):
        if self.running:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name=self.thread_name, daemon=True)
        self._thread.start()
        log.info("%s started (every %ss)", self.thread_name, self.interval)

    def stop(self, timeout=30):
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        log.info("%s stopped", self.thread_name)

    def run_once(self, **kwargs):
        """One cycle in its own app context and session; a failure is logged and counted, and
        None returned, never raised: the loop must outlive a dead database."""
        started = time.perf_counter()
        with self.app.app_context():
            try:
                result = self.cycle(**kwargs)
                self.last_error = None
                return result
            except Exception as e:
                db.session.rollback()
                self.errors += 1
                self.last_error = failure_kind(e)  # the kind only: /health shows it to anyone
                if is_database_failure(e):  # an outage: one line per interval, not one per cycle
                    report(f"{self.thread_name} cycle", e, log, self.app)
                else:
                    log.exception("%s cycle failed", self.thread_name)
                return None
            finally:
                db.session.remove()
                self.cycles += 1
                self.last_run_at = utcnow()
                self.last_duration_ms = round((time.perf_counter() - started) * 1000, 1)

    def wake(self):
        """Run the next cycle now rather than at the end of the interval (work has come)."""
        self._wake.set()

    def _sleep(self, seconds):
        """Wait up to `seconds`, or until woken or stopped; True when stopped. A wake that comes
        during a cycle is kept for the wait after it, so none is lost."""
        self._wake.wait(seconds)
        self._wake.clear()
        return self._stop.is_set()

    def _loop(self):
        if self._stop.wait(self.initial_delay):
            return
        while not self._stop.is_set():
            if not self.more_due(self.run_once()):
                self._sleep(self.interval)

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
