"""GET /health: the database and the background workers, no sign-in needed. Anyone sees the
status and each worker's state (its last error as a kind of failure only); counts across shops
need `Authorization: Bearer <HEALTH_TOKEN>`."""
import hmac
import logging

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy import text

from .extensions import db
from .delivery import outbox
from .timeutil import utcnow

log = logging.getLogger(__name__)

bp = Blueprint("health", __name__)


@bp.get("/health")
def health():
    body = {"status": "healthy", "database": "connected"}
    status = 200
    try:
        db.session.execute(text("SELECT 1"))
    except Exception:  # any failure to reach the database is the answer, not an error
        db.session.rollback()
        body.update(status="unhealthy", database="unreachable")
        status = 503
    trusted = _trusted()
    body["monitor"] = _worker_status("stock_monitor", "STOCK_MONITOR_INTERVAL", trusted)
    body["dispatcher"] = _worker_status("dispatcher", "DELIVERY_POLL_SECONDS", trusted)
    if not trusted:
        return jsonify(body), status
    body["deliveries"] = None
    if status == 200:
        try:  # messages waiting to go out now, and messages that gave up: a silent outage shows here
            body["deliveries"] = outbox.counts(utcnow())
            db.session.rollback()
        except Exception:
            db.session.rollback()
            log.exception("could not count deliveries")
    return jsonify(body), status


PUBLIC_WORKER_FIELDS = ("running", "interval_seconds", "last_run_at", "last_duration_ms", "last_error")


def _trusted():
    """Whether the caller gave the HEALTH_TOKEN (compared in constant time)."""
    token = current_app.config.get("HEALTH_TOKEN")
    given = request.headers.get("Authorization", "")
    if not token or not given.startswith("Bearer "):
        return False
    return hmac.compare_digest(given[len("Bearer "):].strip().encode(), token.encode())


def _worker_status(key, interval_setting, trusted):
    worker = current_app.extensions.get(key)
    if worker is not None:
        state = worker.status()
        # Counters (messages sent, cycles) add up every shop's work: for the token holder only.
        return state if trusted else {k: state[k] for k in PUBLIC_WORKER_FIELDS if k in state}
    return {"running": False, "interval_seconds": current_app.config[interval_setting],
            "last_run_at": None, "last_duration_ms": None, "last_error": None}
