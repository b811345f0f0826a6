"""The access log: waitress logs no requests itself, so the app writes one line per request with
method, path, status and time (the Flask hooks in `create_app`)."""
import logging
import time

log = logging.getLogger("stockbell.access")


def log_request(method, path, status, started):
    """One line for a request that began at `started` (time.perf_counter())."""
    if log.isEnabledFor(logging.INFO):
        log.info("%s %s %s %.1fms", method, path, status, (time.perf_counter() - started) * 1000)
