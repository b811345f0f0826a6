"""Failures of the database, told once: one log line per kind of failure per interval (not a
traceback per request while the database is down), and a session cleanup that cannot turn a
committed answer into an error after the fact."""
import logging
import threading

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
    """Logs the first failure of each kind at once and opens a window of `interval` seconds; the
    failures of that kind within it are counted, and when it closes (a timer, whether or not
    another failure comes) one line says how many there were. The next failure after that is
    logged at once again: a second outage is never folded into the first one's count."""

    def __init__(self, interval=INTERVAL_SECONDS):
        self.interval = interval
        self._lock = threading.Lock()
        self._windows = {}  # kind -> {"count", "where", "logger"} while its window is open

    def failed(self, where, error, logger=log):
        kind = failure_kind(error)
        with self._lock:
            window = self._windows.get(kind)
            if window is not None:
                window["count"] += 1
                window["where"] = where
                return False
            self._windows[kind] = {"count": 0, "where": where, "logger": logger}
            timer = threading.Timer(self.interval, self._close, (kind,))
            timer.daemon = True
            timer.start()
        logger.error("%s: %s", where, kind)
        return True

    def _close(self, kind):
        with self._lock:
            window = self._windows.pop(kind, None)
        if window and window["count"]:
            window["logger"].error("%s: %s (%d more like it in the last %.0f s)", window["where"], kind,
                                   window["count"], self.interval)


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
