"""Failed sign-ins per email: after LOGIN_MAX_FAILURES within the lock-out window, 429 until it
passes. Kept in memory per app and process: it slows guessing, it is not an account lock."""
import threading
import time

from flask import current_app


class LoginThrottle:
    def __init__(self, max_failures, window_seconds):
        self.max_failures = max_failures
        self.window = window_seconds
        self._lock = threading.Lock()
        self._failures: dict[str, list[float]] = {}

    def _recent(self, email, now):
        times = [t for t in self._failures.get(email, []) if now - t < self.window]
        if times:
            self._failures[email] = times
        else:
            self._failures.pop(email, None)
        return times

    def is_locked(self, email) -> bool:
        with self._lock:
            return len(self._recent(email, time.monotonic())) >= self.max_failures

    def record_failure(self, email):
        with self._lock:
            now = time.monotonic()
            self._failures[email] = [*self._recent(email, now), now]

    def reset(self, email):
        with self._lock:
            self._failures.pop(email, None)


def init_app(app):
    app.extensions["login_throttle"] = LoginThrottle(app.config["LOGIN_MAX_FAILURES"],
                                                     app.config["LOGIN_LOCKOUT_SECONDS"])


def throttle() -> LoginThrottle:
    return current_app.extensions["login_throttle"]
