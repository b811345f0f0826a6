"""Failed sign-ins per email (and client address): after LOGIN_MAX_FAILURES within the lock-out
window, 429 until it passes. Kept in memory per app and process: it slows guessing, it is not an
account lock."""
import threading
import time

from flask import current_app


class LoginThrottle:
    def __init__(self, max_failures, window_seconds):
        self.max_failures = max_failures
        self.window = window_seconds
        self._lock = threading.Lock()
        self._failures: dict[str, list[float]] = {}

    def _recent(self, key, now):
        times = [t for t in self._failures.get(key, []) if now - t < self.window]
        if times:
            self._failures[key] = times
        else:
            self._failures.pop(key, None)
        return times

    def is_locked(self, key) -> bool:
        with self._lock:
            return len(self._recent(key, time.monotonic())) >= self.max_failures

    def record_failure(self, key):
        with self._lock:
            now = time.monotonic()
            self._failures[key] = [*self._recent(key, now), now]

    def reset(self, key):
        with self._lock:
            self._failures.pop(key, None)


def init_app(app):
    app.extensions["login_throttle"] = LoginThrottle(app.config["LOGIN_MAX_FAILURES"],
                                                     app.config["LOGIN_LOCKOUT_SECONDS"])


def throttle() -> LoginThrottle:
    return current_app.extensions["login_throttle"]
