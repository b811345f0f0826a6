"""The delivery worker: claims due outbox rows, sends them outside any transaction, and records
each one's fate (sent, failed with a next attempt after backoff, or dead). Also queues digests."""
import dataclasses
import logging
from collections import Counter, defaultdict
from datetime import timedelta

from sqlalchemy import bindparam, select, update

from ..dialect import name as dialect_name
from ..extensions import db
from ..periodic import PeriodicWorker
from ..timeutil import utcnow
from . import outbox
from .channels import Outgoing, Result, get_channel
from .digest import enqueue_due_digests
from .models import Delivery

log = logging.getLogger(__name__)
BATCH_SIZE = 200  # rows per claim: one SMTP connection (and one Twilio session) per channel per batch
LEASE_SECONDS = 300  # a claim not finished by then (the process died) is taken again
_CLAIMED = (Delivery.id, Delivery.client_id, Delivery.alert_log_id, Delivery.channel, Delivery.recipient,
            Delivery.subject, Delivery.body, Delivery.html_body, Delivery.attempts)


def claim(limit, now, lease_seconds=LEASE_SECONDS):
    """Take up to `limit` due rows and commit the claim: status "sending", one attempt more, a
    lease until now + lease_seconds. On PostgreSQL, FOR UPDATE SKIP LOCKED gives concurrent
    dispatchers disjoint rows; on SQLite, BEGIN IMMEDIATE makes this the only writer, and the
    UPDATE re-checks that each row is still due (compare-and-set) on both."""
    db.session.commit()  # BEGIN IMMEDIATE must open the transaction, not join one
    if dialect_name() == "sqlite":
        db.session.connection().exec_driver_sql("BEGIN IMMEDIATE")
    due = outbox.due_clause(now)
    candidates = (select(Delivery.id).where(due).order_by(Delivery.next_attempt_at, Delivery.id)
                  .limit(limit).with_for_update(skip_locked=True))
    stmt = (update(Delivery).where(Delivery.id.in_(candidates), due)
            .values(status="sending", attempts=Delivery.attempts + 1,
                    claimed_until=now + timedelta(seconds=lease_seconds))
            .returning(*_CLAIMED))
    try:
        rows = db.session.execute(stmt, execution_options={"synchronize_session": False}).all()
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return sorted((Outgoing(*row) for row in rows), key=lambda d: d.id)


def send(batch, config):
    """Send a claimed batch, channel by channel; returns one Result per row. No transaction is
    open meanwhile, so a slow server holds no lock."""
    by_channel = defaultdict(list)
    for delivery in batch:
        by_channel[delivery.channel].append(delivery)
    if by_channel.get("whatsapp") and config.get("TWILIO_WHATSAPP_CONTENT_SID"):
        variables = outbox.template_variables(by_channel["whatsapp"])
        db.session.commit()
        by_channel["whatsapp"] = [dataclasses.replace(d, variables=variables[d.id]) for d in by_channel["whatsapp"]]
    results = []
    for channel, deliveries in by_channel.items():
        try:
            results += get_channel(channel, config).send(deliveries)
        except Exception as e:  # a bug in a channel must not leave its rows "sending" until the lease ends
            log.exception("channel %s failed", channel)
            results += [Result.failed(d, f"{type(e).__name__}: {e}") for d in deliveries]
    return results


def record(batch, results, now, max_attempts, backoff_seconds):
    """Write each row's fate, only if this sender still holds its claim (same status and attempt
    count). Returns a Counter of the statuses written."""
    table = Delivery.__table__
    attempts = {d.id: d.attempts for d in batch}
    sent, failed, outcome = [], [], Counter()
    for result in results:
        tries = attempts[result.delivery_id]
        if result.ok:
            sent.append({"b_id": result.delivery_id, "b_attempts": tries, "b_provider": result.provider_id})
            outcome["sent"] += 1
            continue
        status = "dead" if not result.retry or tries >= max_attempts else "failed"
        failed.append({"b_id": result.delivery_id, "b_attempts": tries, "b_status": status,
                       "b_error": result.error,
                       "b_next": now if status == "dead" else now + outbox.backoff_delay(tries, backoff_seconds)})
        outcome[status] += 1
    held = (table.c.id == bindparam("b_id"), table.c.status == "sending", table.c.attempts == bindparam("b_attempts"))
    if sent:
        db.session.execute(update(table).where(*held).values(
            status="sent", provider_id=bindparam("b_provider"), sent_at=now, claimed_until=None, last_error=None), sent)
    if failed:
        db.session.execute(update(table).where(*held).values(
            status=bindparam("b_status"), last_error=bindparam("b_error"), next_attempt_at=bindparam("b_next"),
            claimed_until=None), failed)
    db.session.commit()
    return outcome


class Dispatcher(PeriodicWorker):
    """The daemon thread: every DELIVERY_POLL_SECONDS (at once while full batches keep coming),
    queue due digests, then claim, send and record one batch."""

    thread_name = "delivery-dispatcher"

    def __init__(self, app, poll_seconds=None, batch_size=BATCH_SIZE, lease_seconds=LEASE_SECONDS):
        super().__init__(app, poll_seconds if poll_seconds is not None else app.config["DELIVERY_POLL_SECONDS"])
        self.batch_size = batch_size
        self.lease_seconds = lease_seconds
        self.totals = Counter()

    def cycle(self, now=None):
        """Returns the counts of what it did (digests, claimed, sent, failed, dead). `now` fixes
        the clock, for tests; by default the wall clock."""
        config = self.app.config
        counts = Counter(digests=enqueue_due_digests(now or utcnow()))
        batch = claim(self.batch_size, now or utcnow(), self.lease_seconds)
        counts["claimed"] = len(batch)
        if batch:
            results = send(batch, config)
            counts.update(record(batch, results, now or utcnow(), config["DELIVERY_MAX_ATTEMPTS"],
                                 config["DELIVERY_BACKOFF_SECONDS"]))
            log.info("deliveries: %d claimed, %d sent, %d failed, %d dead", len(batch), counts["sent"],
                     counts["failed"], counts["dead"])
        self.totals.update({k: v for k, v in counts.items() if k != "claimed"})
        return dict(counts)

    def more_due(self, counts):
        return bool(counts) and counts["claimed"] >= self.batch_size

    def status(self):
        return {**super().status(), "sent": self.totals["sent"], "failed": self.totals["failed"],
                "dead": self.totals["dead"]}
