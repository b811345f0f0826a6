"""Keeping data (API.md): read notifications older than NOTIFICATION_RETENTION_DAYS and the bodies
of finished deliveries older than DELIVERY_RETENTION_DAYS are removed by the worker, in small
batches each in its own short transaction, so that no lock is held for long. The row of a delivery
and its status stay (the deliveries page and the daily caps read them); the alert log, movements
and the audit log are never touched. 0 days keeps everything of that kind."""
import logging
import time
from datetime import timedelta

from flask import current_app
from sqlalchemy import literal_column, null, or_, select, update

from ..extensions import db
from ..notifications import service as bell
from . import receipts
from .models import DELIVERY_STATUSES, Delivery

log = logging.getLogger(__name__)
FINISHED = ("sent", "delivered", "undelivered", "dead")
# Asked as "not waiting": an IN list of statuses would send SQLite, which has no statistics, to
# the status index (every row ever sent) instead of the partial index below. A status added later
# counts as waiting until it is named in FINISHED.
WAITING = tuple(status for status in DELIVERY_STATUSES if status not in FINISHED)
BATCH = 500  # rows per statement
MAX_BATCHES = 20  # per kind and pass: a pass never keeps the dispatcher from its messages for long
PASS_SECONDS = 300  # between passes that found nothing more to do
KEEP_RECEIPTS = timedelta(days=1)
# The partial index ix_deliveries_body_kept, as SQLite needs it written to use it.
BODY_KEPT = or_(Delivery.payload.isnot(None), Delivery.body != literal_column("''"))


def empty_finished_bodies(before, batch=BATCH, max_batches=MAX_BATCHES):
    """Empty payload, body and html_body of finished deliveries created before `before`, `batch`
    rows per statement, each committed on its own. Returns how many rows were emptied."""
    oldest = (select(Delivery.id).where(BODY_KEPT, Delivery.created_at < before, Delivery.status.not_in(WAITING))
              .order_by(Delivery.created_at).limit(batch))
    emptied = 0
    for _ in range(max_batches):
        count = db.session.execute(
            update(Delivery).where(Delivery.id.in_(oldest.scalar_subquery()))
            .values(payload=null(), body="", html_body=None),  # null(): SQL NULL, not JSON "null"
            execution_options={"synchronize_session": False}).rowcount
        db.session.commit()
        emptied += count
        if count < batch:
            break
    return emptied


def prune(now, config=None):
    """One pass of both kinds at `now`; returns {"notifications": n, "deliveries": n}."""
    config = config or current_app.config
    counts = {"notifications": 0, "deliveries": 0}
    days = int(config.get("NOTIFICATION_RETENTION_DAYS") or 0)
    if days > 0:
        counts["notifications"] = bell.prune_read(now - timedelta(days=days), BATCH, MAX_BATCHES)
    days = int(config.get("DELIVERY_RETENTION_DAYS") or 0)
    if days > 0:
        counts["deliveries"] = empty_finished_bodies(now - timedelta(days=days))
    if any(counts.values()):
        log.info("retention: %d read notifications deleted, %d delivery bodies emptied",
                 counts["notifications"], counts["deliveries"])
    return counts


def prune_due(now):
    """From the worker's cycle: a pass when the last one is PASS_SECONDS old (at once again while
    a pass stops at its batch limit). The pace is this process's own; passes of several workers
    at once only find less to do. A failed pass is logged and left to the next."""
    state = current_app.extensions.setdefault("retention", {"next": 0.0})
    if time.monotonic() < state["next"]:
        return None
    state["next"] = time.monotonic() + PASS_SECONDS
    try:
        counts = prune(now)
        # A provider's receipt for a message we never recorded (the process died first): a day.
        receipts.prune_kept(now - KEEP_RECEIPTS)
        db.session.commit()
    except Exception:  # housekeeping must never keep the dispatcher from its messages: next pass
        db.session.rollback()
        log.exception("retention pass failed; the next is in %d s", PASS_SECONDS)
        return None
    if max(counts.values()) >= BATCH * MAX_BATCHES:
        state["next"] = 0.0  # more to do: go on in the next cycle
    return counts
