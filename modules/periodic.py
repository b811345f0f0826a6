"""PeriodicWorker: a daemon thread that runs one cycle every few seconds in its own app context
and session, stops at once on an event, reports its state for /health, and writes a heartbeat
to the database (`worker_heartbeats`) every WORKER_HEARTBEAT_SECONDS, so that /health on any
process (the web processes of a split deployment too) tells whether the workers live. The stock
monitor and the delivery dispatcher are both one of these."""
import logging
import os
import socket
import threading
import time
from datetime import timedelta

from sqlalchemy import delete, select

from .dialect import insert
from .extensions import db
from .outage import failure_kind, is_database_failure, report
from .timeutil import isoformat, utcnow

log = logging.getLogger(__name__)
FORGET_BEATS_AFTER = timedelta(days=1)  # a worker silent this long is gone: its row is removed


class WorkerHeartbeat(db.Model):
    """A worker thread's last sign of life, one row per process and kind."""

    __tablename__ = "worker_heartbeats"
    __table_args__ = (db.Index("ix_worker_heartbeats_last_beat_at", "last_beat_at"),)

    id = db.Column(db.String(200), primary_key=True)  # "<host>:<pid>:<kind>"
    kind = db.Column(db.String(32), nullable=False)  # the thread's name: stock-monitor, delivery-dispatcher
    host = db.Column(db.String(128), nullable=False)
    pid = db.Column(db.Integer, nullable=False)
    started_at = db.Column(db.DateTime, nullable=False)
    last_beat_at = db.Column(db.DateTime, nullable=False)


def heartbeats(since):
    """Every worker that beat after `since`, by kind, the newest first."""
    return db.session.execute(select(WorkerHeartbeat).where(WorkerHeartbeat.last_beat_at >= since)
                              .order_by(WorkerHeartbeat.kind, WorkerHeartbeat.last_beat_at.desc())).scalars().all()


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
        self.started_at = None
        self.last_beat_at = None
        self.beat_seconds = float(app.config.get("WORKER_HEARTBEAT_SECONDS") or 30)
        host = socket.gethostname()[:80]
        self.beat_id = f"{host}:{os.getpid()}:{self.thread_name}"
        self.host = host

    def cycle(self, **kwargs):
        """One unit of work, inside an app context; its result is what run_once() returns."""
        raise NotImplementedError

    def more_due(self, result) -> bool:
        """Whether to run again without waiting (work is still queued)."""
        return False

    def wait_after(self, result) -> float:
        """Seconds from the end of a cycle that returned `result` to the next: none while work is
        still queued, else the interval."""
        return 0.0 if self.more_due(result) else self.interval

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

    def signal_stop(self):
        """Ask the thread to stop after its current cycle (it waits on nothing else)."""
        self._stop.set()
        self._wake.set()

    def stop(self, timeout=30):
        """Stop and wait up to `timeout` s for the cycle under way; a daemon thread still busy
        after that (a hung SMTP server) does not keep the process from exiting."""
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

    def beat(self):
        """Write this worker's heartbeat (its own small transaction; a failure is logged once
        per kind per minute and never stops the loop); beats silent for a day are removed."""
        now = utcnow()
        with self.app.app_context():
            try:
                values = {"kind": self.thread_name, "host": self.host, "pid": os.getpid(),
                          "started_at": self.started_at or now, "last_beat_at": now}
                db.session.execute(insert(WorkerHeartbeat).values(id=self.beat_id, **values)
                                   .on_conflict_do_update(index_elements=["id"], set_=values))
                db.session.execute(
                    delete(WorkerHeartbeat).where(WorkerHeartbeat.last_beat_at < now - FORGET_BEATS_AFTER),
                    execution_options={"synchronize_session": False})
                db.session.commit()
                self.last_beat_at = now
            except Exception as e:
                db.session.rollback()
                if is_database_failure(e):
                    report(f"{self.thread_name} heartbeat", e, log, self.app)
                else:
                    log.exception("%s heartbeat failed", self.thread_name)
            finally:
                db.session.remove()

    def _loop(self):
        self.started_at = utcnow()
        self.beat()
        next_beat = time.monotonic() + self.beat_seconds
        next_cycle = time.monotonic() + self.initial_delay  # beating while it waits for the first cycle too
        self._stop.wait(max(0.0, min(next_cycle, next_beat) - time.monotonic()))
        while not self._stop.is_set():
            if self._wake.is_set():  # work has come (or a stop): the next cycle now, not at its time
                self._wake.clear()
                next_cycle = time.monotonic()
            if self._stop.is_set():
                break
            if time.monotonic() >= next_cycle:
                next_cycle = time.monotonic() + self.wait_after(self.run_once())
            if time.monotonic() >= next_beat:
                self.beat()
                next_beat = time.monotonic() + self.beat_seconds
            # A wake during the cycle stays set, so this returns at once and none is lost.
            self._wake.wait(max(0.0, min(next_cycle, next_beat) - time.monotonic()))

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
