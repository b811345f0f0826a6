"""GET /health: the database and the background workers, no sign-in needed. Anyone sees the
status, this process's worker threads (their last error as a kind of failure only), every worker
process's last heartbeat from the database (so a web process of a split deployment tells whether
the worker lives) and when the outbox's longest-waiting row became due; counts across shops, and
which host and process each worker is, need `Authorization: Bearer <HEALTH_TOKEN>`."""
import hmac
import logging
from datetime import timedelta

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy import text

from .extensions import db
from .delivery import outbox
from .periodic import heartbeats
from .timeutil import isoformat, utcnow

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
    if status == 200:
        body.update(_from_the_database(trusted))
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


def _from_the_database(trusted):
    """{"workers": [every worker's last beat], "outbox": {"oldest_due_at", "waiting_seconds"}}."""
    now = utcnow()
    beat_seconds = float(current_app.config.get("WORKER_HEARTBEAT_SECONDS") or 30)
    try:
        workers = []
        for beat in heartbeats(now - timedelta(days=1)):
            silent = max(0.0, (now - beat.last_beat_at).total_seconds())
            entry = {"kind": beat.kind, "last_beat_at": isoformat(beat.last_beat_at),
                     "seconds_since_beat": round(silent, 1), "alive": silent <= 3 * beat_seconds}
            if trusted:
                entry.update(host=beat.host, pid=beat.pid, started_at=isoformat(beat.started_at))
            workers.append(entry)
        oldest = outbox.oldest_due(now)
        db.session.rollback()
    except Exception:  # noqa: BLE001 -- the status above already says what a caller needs
        db.session.rollback()
        log.exception("could not read the workers' heartbeats")
        return {}
    return {"workers": workers, "outbox": {
        "oldest_due_at": isoformat(oldest),
        "waiting_seconds": None if oldest is None else round(max(0.0, (now - oldest).total_seconds()), 1)}}


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
