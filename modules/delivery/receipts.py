"""Provider receipts (a channel's `read_receipt` turns the provider's request into a Receipt):
a sent row becomes delivered or undelivered, and an opt-out stops that address. A receipt may
arrive before the provider's answer to our send has been recorded, or out of order: it is kept
(`provider_receipts`, keyed by the provider's id) and applied when the row learns that id, and
the last word wins with the row's status and times always agreeing."""
import logging

from sqlalchemy import delete, select, update

from ..dialect import insert
from ..extensions import db
from .channels import Receipt
from .models import Delivery, ProviderReceipt
from .recipients import opt_out

log = logging.getLogger(__name__)
FINAL = ("delivered", "undelivered")


def _values(receipt, now):
    """The columns a receipt sets: a delivered row has its time; an undelivered one has none."""
    values = {"provider_status": receipt.provider_status}
    if receipt.status == "delivered":
        values.update(status="delivered", delivered_at=now, last_error=None)
    elif receipt.status == "undelivered":
        values.update(status="undelivered", delivered_at=None, last_error=receipt.error)
    return values


def apply_receipt(receipt, now):
    """Apply one receipt to the rows the provider's message carried, or keep it for later when no
    row carries that id yet. Returns how many rows changed."""
    rows = _carrying(receipt.provider_id)
    if not rows:
        log.info("receipt %s for message %s before its send was recorded: kept", receipt.provider_status,
                 receipt.provider_id)
        db.session.execute(insert(ProviderReceipt).values(
            provider_id=receipt.provider_id, status=receipt.status, provider_status=receipt.provider_status,
            error=receipt.error, opt_out=receipt.opt_out, received_at=now))
        return 0
    return _apply(receipt, rows, now)


def _carrying(provider_id):
    """The rows that the provider's message `provider_id` carried (several for a burst)."""
    return db.session.execute(
        select(Delivery.id, Delivery.client_id, Delivery.channel, Delivery.recipient)
        .where(Delivery.provider_id == provider_id)).all()


def _apply(receipt, rows, now):
    # An intermediate status ("queued", "sent") never takes back a final one.
    movable = ("sent",) + (FINAL if receipt.status in FINAL else ())
    changed = db.session.execute(
        update(Delivery).where(Delivery.id.in_([r.id for r in rows]), Delivery.status.in_(movable))
        .values(**_values(receipt, now)), execution_options={"synchronize_session": False}).rowcount
    if receipt.opt_out:
        for row in rows:
            opt_out(row.client_id, row.channel, row.recipient, now)
        log.info("an address opted out by its provider's receipt (shop %s)", rows[0].client_id)
    return changed


def apply_kept(provider_id, now):
    """Apply, in the order they came, the receipts kept for `provider_id` (its send was just
    recorded), and forget them. The caller commits."""
    kept = db.session.execute(select(ProviderReceipt).where(ProviderReceipt.provider_id == provider_id)
                              .order_by(ProviderReceipt.id)).scalars().all()
    if not kept:
        return 0
    rows = _carrying(provider_id)
    changed = 0
    for row in kept:
        receipt = Receipt(row.provider_id, row.status, row.provider_status, row.error, row.opt_out)
        changed += _apply(receipt, rows, row.received_at or now)
    db.session.execute(delete(ProviderReceipt).where(ProviderReceipt.provider_id == provider_id))
    return changed


def prune_kept(before):
    """Forget receipts kept for a message we never recorded (older than `before`)."""
    return db.session.execute(delete(ProviderReceipt).where(ProviderReceipt.received_at < before)).rowcount
