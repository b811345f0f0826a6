"""GET /health: the database and the background workers, no sign-in needed."""
import logging

from flask import Blueprint, current_app, jsonify
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
    body["monitor"] = _worker_status("stock_monitor", "STOCK_MONITOR_INTERVAL")
    body["dispatcher"] = _worker_status("dispatcher", "DELIVERY_POLL_SECONDS")
    body["deliveries"] = None
    if status == 200:
        try:  # messages waiting to go out now, and messages that gave up: a silent outage shows here
            body["deliveries"] = outbox.counts(utcnow())
            db.session.rollback()
        except Exception:
            db.session.rollback()
            log.exception("could not count deliveries")
    return jsonify(body), status


def _worker_status(key, interval_setting):
    worker = current_app.extensions.get(key)
    if worker is not None:
        return worker.status()
    return {"running": False, "interval_seconds": current_app.config[interval_setting],
            "last_run_at": None, "last_duration_ms": None, "last_error": None}
