"""GET /health: the database and the background workers, no sign-in needed."""
import logging

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

from .extensions import db
from .notifications import outbox
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
    monitor = current_app.extensions.get("stock_monitor")
    body["monitor"] = monitor.status() if monitor else {
        "running": False, "interval_seconds": current_app.config["STOCK_MONITOR_INTERVAL"],
        "last_run_at": None, "last_duration_ms": None, "last_error": None,
    }
    dispatcher = current_app.extensions.get("dispatcher")
    body["dispatcher"] = dispatcher.status() if dispatcher else {
        "running": False, "poll_seconds": current_app.config["DELIVERY_POLL_SECONDS"],
        "last_run_at": None, "last_duration_ms": None, "last_error": None,
    }
    body["deliveries"] = None
    if status == 200:
        try:  # messages waiting to go out now, and messages that gave up: a silent outage shows here
            body["deliveries"] = outbox.counts(utcnow())
            db.session.rollback()
        except Exception:
            db.session.rollback()
            log.exception("could not count deliveries")
    return jsonify(body), status
