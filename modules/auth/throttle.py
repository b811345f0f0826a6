"""Failed sign-ins per email: after LOGIN_MAX_FAILURES within the lock-out window, 429 until it
passes. Kept in memory, per process: it slows guessing, it is not an account lock."""
import threading
import time

from flask import current_app

_lock = threading.Lock()
_failures: dict[str, list[float]] = {}


def _window():
    return current_app.config["LOGIN_LOCKOUT_SECONDS"]


def _recent(email, now):
    times = [t for t in _failures.get(email, []) if now - t < _window()]
    if times:
        _failures[email] = times
    else:
        _failures.pop(email, None)
    return times


def is_locked(email) -> bool:
    with _lock:
        return len(_recent(email.lower(), time.monotonic())) >= current_app.config["LOGIN_MAX_FAILURES"]


def record_failure(email):
    with _lock:
        now = time.monotonic()
        _recent(email.lower(), now)
        _failures.setdefault(email.lower(), []).append(now)


def reset(email):
    with _lock:
        _failures.pop(email.lower(), None)
