"""GET /health: the database and the background workers, no sign-in needed."""
from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

from .extensions import db

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
    if dispatcher is not None:
        body["dispatcher"] = dispatcher.status()
    return jsonify(body), status
