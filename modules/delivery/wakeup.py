"""Waking the dispatcher when the outbox gets new rows: one due now leaves at once (an
out-of-stock alert within a second, not at the next poll), and one due later sets when the
dispatcher's next cycle comes (Dispatcher.wait_after). In this process: every dispatcher here
is woken once the transaction that queued the rows commits. Across processes on PostgreSQL: the
same transaction sends NOTIFY, which PostgreSQL delivers at commit, and each dispatcher hears it
on a LISTEN connection of its own (a plain session connection: a transaction-pooling PgBouncer
cannot carry LISTEN). The dispatcher's poll stays the fallback for anything missed."""
import logging
import threading
import weakref

import psycopg
from sqlalchemy import event, text
from sqlalchemy.orm import Session

from ..dialect import name as dialect_name
from ..extensions import db
from ..outage import report

log = logging.getLogger(__name__)
CHANNEL = "stockbell_outbox"
_FLAG = "stockbell_wake_dispatchers"
_here = weakref.WeakSet()  # the dispatchers of this process


def listen_here(dispatcher):
    _here.add(dispatcher)


def rows_queued():
    """Say, in the transaction that queued outbox rows, that the dispatchers should wake when it
    commits (nothing happens if it rolls back)."""
    db.session.info[_FLAG] = True
    if dialect_name() == "postgresql":
        db.session.execute(text(f"NOTIFY {CHANNEL}"))


@event.listens_for(Session, "after_commit")
def _wake_after_commit(session):
    if session.info.pop(_FLAG, False):
        for dispatcher in list(_here):
            dispatcher.wake()


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session):
    session.info.pop(_FLAG, None)


def conninfo(url):
    """libpq connection arguments from the app's SQLAlchemy URL."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


class Listener:
    """A daemon thread holding a LISTEN connection of its own; each NOTIFY calls `on_notify`.
    A lost connection is logged (once per kind per minute) and made again after a pause."""

    def __init__(self, app, url, on_notify, timeout=1.0):
        self.app, self.url, self.on_notify, self.timeout = app, url, on_notify, timeout
        self._stop = threading.Event()
        self._thread = None
        self.listening = threading.Event()  # set while LISTEN is in place (tests wait on it)

    def start(self):
        self._thread = threading.Thread(target=self._run, name="outbox-listener", daemon=True)
        self._thread.start()
        return self

    def signal_stop(self):
        self._stop.set()

    def stop(self, timeout=5):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self):
        pause = 1.0
        while not self._stop.is_set():
            try:
                with psycopg.connect(conninfo(self.url), autocommit=True, connect_timeout=5) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.listening.set()
                    pause = 1.0
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=self.timeout, stop_after=1):
                            self.on_notify()
            except Exception as e:  # the database away: the poll carries on; try again later
                self.listening.clear()
                if self.app is not None:
                    report("outbox listener", e, log, self.app)
                else:
                    log.warning("outbox listener: %s", type(e).__name__)
                self._stop.wait(pause)
                pause = min(pause * 2, 30.0)
        self.listening.clear()
