"""Provider receipts: Twilio's status callbacks turn a sent row into delivered or undelivered
(with the error in the shop's words), and a STOP reply (21610) opts the number out."""
import logging

from sqlalchemy import select, update

from ..extensions import db
from .channels.messaging import ERROR_TEXTS
from .models import Delivery
from .recipients import opt_out

log = logging.getLogger(__name__)
DELIVERED = {"delivered", "read"}
UNDELIVERED = {"undelivered", "failed"}
STOPPED = "21610"


def _error_code(raw):
    raw = (raw or "").strip()
    return raw if raw.isdigit() and len(raw) <= 10 else None


def record_status(sid, provider_status, error_code, now):
    """Apply one callback to the rows Twilio's message carried. Returns how many rows changed."""
    sid, provider_status, code = sid[:128], provider_status[:32].lower(), _error_code(error_code)
    if not sid:
        return 0
    rows = db.session.execute(
        select(Delivery.id, Delivery.client_id, Delivery.channel, Delivery.recipient)
        .where(Delivery.provider_id == sid, Delivery.status.in_(("sent", "delivered", "undelivered")))).all()
    if not rows:
        log.info("Twilio status %s for unknown message %s", provider_status, sid)
        return 0
    values = {"provider_status": provider_status}
    if provider_status in DELIVERED:
        values.update(status="delivered", delivered_at=now)
    elif provider_status in UNDELIVERED:
        text = ERROR_TEXTS.get(int(code), "The message could not be delivered.") if code else \
            "The message could not be delivered."
        values.update(status="undelivered", last_error=f"{text} (Twilio error {code})" if code else text)
    # A late "sent" or "queued" never takes back a delivered or undelivered row.
    movable = ("sent",) if "status" not in values else ("sent", "delivered") if values["status"] == "undelivered" \
        else ("sent", "undelivered")
    changed = db.session.execute(
        update(Delivery).where(Delivery.id.in_([r.id for r in rows]), Delivery.status.in_(movable)).values(**values),
        execution_options={"synchronize_session": False}).rowcount
    if code == STOPPED:
        for row in rows:
            opt_out(row.client_id, row.channel, row.recipient, now)
        log.info("number opted out after Twilio error 21610 (shop %s)", rows[0].client_id)
    return changed
