"""Failures of the database, told once: one log line per kind of failure per interval (not a
traceback per request while the database is down), and a session cleanup that cannot turn a
committed answer into an error after the fact."""
import logging
import threading
import time

from flask import current_app
from sqlalchemy.exc import DBAPIError

from .extensions import db

log = logging.getLogger("stockbell.outage")
INTERVAL_SECONDS = 60.0


def failure_kind(error):
    """What kind of failure `error` is, without its message (which may name a host, a port or a
    user): "database unreachable (OperationalError)", "database error (UniqueViolation)", ..."""
    from sqlalchemy.exc import OperationalError

    orig = getattr(error, "orig", None)
    if isinstance(error, OperationalError):
        return f"database unreachable ({type(orig).__name__ if orig else 'OperationalError'})"
    if isinstance(error, DBAPIError):
        return f"database error ({type(orig).__name__ if orig else type(error).__name__})"
    return type(error).__name__


def is_database_failure(error):
    return isinstance(error, DBAPIError)


class FailureLog:
    """Logs the first failure of each kind at once, then at most one line per interval with how
    many more there were."""

    def __init__(self, interval=INTERVAL_SECONDS, clock=time.monotonic):
        self.interval = interval
        self.clock = clock
        self._lock = threading.Lock()
        self._kinds = {}  # kind -> [last logged at, suppressed since]

    def failed(self, where, error, logger=log):
        kind = failure_kind(error)
        now = self.clock()
        with self._lock:
            last, suppressed = self._kinds.get(kind, (None, 0))
            if last is not None and now - last < self.interval:
                self._kinds[kind] = [last, suppressed + 1]
                return False
            self._kinds[kind] = [now, 0]
        more = f" ({suppressed} more like it in the last {self.interval:.0f} s)" if suppressed else ""
        logger.error("%s: %s%s", where, kind, more)
        return True


def report(where, error, logger=log, app=None):
    """Log a database failure through the app's FailureLog (one per app: its own intervals)."""
    return (app or current_app).extensions["failure_log"].failed(where, error, logger)


def remove_session_safely(exc=None):
    """Flask-SQLAlchemy's teardown, made harmless: the answer was decided (and any commit made)
    before this runs, so a dropped connection here is logged, never raised into the server."""
    try:
        db.session.remove()
    except Exception as error:  # noqa: BLE001 -- nothing may escape to waitress's plain 500
        report("closing the database session", error)
        try:  # drop the broken connection instead of handing it back to the pool
            db.session.invalidate()
            db.session.remove()
        except Exception:  # noqa: BLE001
            pass


def init_app(app):
    """The app's FailureLog, and Flask-SQLAlchemy's own teardown swapped for the safe one."""
    app.extensions["failure_log"] = FailureLog(app.config.get("FAILURE_LOG_INTERVAL", INTERVAL_SECONDS))
    funcs = app.teardown_appcontext_funcs
    funcs[:] = [f for f in funcs if getattr(f, "__name__", "") != "_teardown_session"]
    app.teardown_appcontext(remove_session_safely)
