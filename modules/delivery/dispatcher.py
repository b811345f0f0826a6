"""The delivery worker: claims due outbox rows, gathers a burst to one recipient into one message,
sends outside any transaction, and records each message's fate on its rows as soon as it is
known (sent; failed with a next attempt after backoff; dead). Also queues digests."""
import logging
import time
from collections import Counter, defaultdict, namedtuple
from datetime import timedelta

from sqlalchemy import and_, bindparam, or_, select, text, tuple_, update

from ..alerts import kinds
from ..auth.models import Client, User
from ..dialect import begin_write
from ..dialect import name as dialect_name
from ..extensions import db
from ..periodic import PeriodicWorker
from ..timeutil import local_midnight, utcnow
from . import limits, outbox, receipts, recipients, retention, wakeup
from .channels import Outgoing, Result, channel_class, get_channel, names
from .digest import enqueue_due_digests
from .messages import Notice
from .models import Delivery, Recipient

log = logging.getLogger(__name__)
BATCH_SIZE = 200  # rows per claim: one SMTP connection (one Twilio session) per channel and priority per batch
LEASE_SECONDS = 300  # a claim not finished by then (the process died) is taken again
_CLAIMED = (Delivery.id, Delivery.client_id, Delivery.channel, Delivery.recipient, Delivery.attempts,
            Delivery.dedupe_key, Delivery.payload, Delivery.subject, Delivery.body, Delivery.html_body)
Claimed = namedtuple("Claimed", [c.key for c in _CLAIMED])
STOPPED = "The address no longer takes messages (opted out, removed or turned off) since this was queued."


def _take(where, limit, now, lease_seconds):
    """Mark up to `limit` rows matching `where` as claimed by this sender and return them."""
    candidates = select(Delivery.id).where(where).order_by(Delivery.next_attempt_at, Delivery.id).limit(limit)
    stmt = (update(Delivery).where(Delivery.id.in_(candidates.with_for_update(skip_locked=True)), where)
            .values(status="sending", attempts=Delivery.attempts + 1,
                    claimed_until=now + timedelta(seconds=lease_seconds))
            .returning(*_CLAIMED))
    return [Claimed(*row) for row in db.session.execute(stmt, execution_options={"synchronize_session": False})]


def _gathers(row, kinds):
    """Whether `row` goes with the other alerts to its recipient: an alert of one of `kinds`
    (outbox.gathering_kinds) on a channel that gathers."""
    if not row.dedupe_key.startswith("alert:") or row.channel not in names() or not channel_class(row.channel).coalesce:
        return False
    items = (row.payload or {}).get("items") or [{}]
    return items[0].get("kind", "low") in kinds


def claim(limit, now, lease_seconds=LEASE_SECONDS, gather=frozenset()):
    """Take up to `limit` due rows, those never tried first, and commit the claim: status
    "sending", one attempt more, a lease until now + lease_seconds; with them, the alerts still
    waiting for the same recipients (a burst goes as one message). On PostgreSQL, FOR UPDATE
    SKIP LOCKED gives concurrent dispatchers disjoint rows; on SQLite, BEGIN IMMEDIATE makes this
    the only writer, and the UPDATE re-checks that each row is still due (compare-and-set) on both."""
    begin_write()
    try:
        # Rows not yet tried first (an empty shelf's message among them), then retries and lapsed
        # leases: after an outage a backlog of retries, due long ago, would otherwise go before
        # every new row, a claim of `limit` at a time. Each part is a range of the due index.
        rows = _take(outbox.first_tries(now), limit, now, lease_seconds)
        if len(rows) < limit:
            rows += _take(outbox.due_clause(now), limit - len(rows), now, lease_seconds)
        bursts = sorted({(r.client_id, r.channel, r.recipient) for r in rows if _gathers(r, gather)})
        if bursts:
            waiting = and_(Delivery.status == "pending", Delivery.dedupe_key.like("alert:%"),
                           tuple_(Delivery.client_id, Delivery.channel, Delivery.recipient).in_(bursts))
            rows += _take(waiting, limit, now, lease_seconds)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return sorted(rows, key=lambda d: d.id)


def _notice(row):
    if row.payload:
        return row.payload
    # Queued before payloads existed (revision 0004): it says what its columns say.
    return {"type": "legacy", "shop": {"id": row.client_id, "name": ""}, "subject": row.subject,
            "body": row.body, "html_body": row.html_body}


def messages_of(rows, gather=frozenset()):
    """One Outgoing per message: the alert rows of `gather`'s kinds to one recipient on a gathering
    channel together, every other row alone."""
    groups = {}
    for row in rows:
        key = (row.client_id, row.channel, row.recipient) if _gathers(row, gather) else ("row", row.id)
        groups.setdefault(key, []).append(row)
    signing = {r.channel for r in rows if r.channel in names() and channel_class(r.channel).signed}
    keys = {}
    for channel in signing:
        keys.update({(channel, *key): secret for key, secret in recipients.secrets_of(
            {r.client_id for r in rows if r.channel == channel}, channel).items()})
    out = []
    for group in groups.values():
        first = group[0]
        out.append(Outgoing(ids=tuple(r.id for r in group), client_id=first.client_id, channel=first.channel,
                            recipient=first.recipient, notice=Notice.from_payloads([_notice(r) for r in group]),
                            secret=keys.get((first.channel, first.client_id, first.recipient))))
    return out


def still_addressed(rows):
    """(rows whose address still takes messages, rows to an address that has opted out, been
    removed or turned off since they were queued, or whose person was deactivated): after STOP, an
    unsubscribe or "Stop notifying this device" nothing more goes there, not even an alert that
    was waiting for company. One query; committed."""
    wanted = sorted({(r.client_id, r.channel, r.recipient) for r in rows if outbox.to_recipients(r.dedupe_key)})
    if not wanted:
        return rows, []
    live = {tuple(found) for found in db.session.execute(
        select(Recipient.client_id, Recipient.channel, Recipient.address)
        .outerjoin(User, User.id == Recipient.user_id).where(
            tuple_(Recipient.client_id, Recipient.channel, Recipient.address).in_(wanted),
            Recipient.enabled.is_(True), Recipient.opted_out_at.is_(None),
            or_(Recipient.user_id.is_(None), User.active.is_(True))))}  # a person deactivated hears no more
    db.session.commit()
    kept, stopped = [], []
    for row in rows:
        gone = outbox.to_recipients(row.dedupe_key) and (row.client_id, row.channel, row.recipient) not in live
        (stopped if gone else kept).append(row)
    return kept, stopped


def within_cap(outgoing, now, cap):
    """(messages to send now, messages over their shop's daily cap). Commits the counts."""
    zones = dict(db.session.execute(select(Client.id, Client.timezone).where(
        Client.id.in_(bindparam("ids", sorted({m.client_id for m in outgoing}), expanding=True)))).all())
    ready, held = [], []
    for message in outgoing:
        zone = zones.get(message.client_id, "UTC")
        (ready if limits.take_message(message.client_id, zone, now, cap) else held).append((message, zone))
    db.session.commit()
    return [m for m, _ in ready], held


def urgency_rank(message):
    """0 for a message holding a critical kind, 1 for an important one, then the rest (a digest,
    a test, an order rank as normal): kinds.PRIORITIES' order."""
    notice = message.notice  # its items are ordered, the most urgent first
    if notice.type != "alerts" or not notice.items:
        return len(kinds.PRIORITIES) - 1
    return kinds.PRIORITIES.index(notice.items[0].kind_entry.priority)


def send(outgoing, config, on_result):
    """Send messages channel by channel, the critical ones of every channel first, then the
    important ones, then the rest (so events queued earlier never hold an empty shelf's message
    back), calling `on_result` for each as soon as it is known. No transaction is open
    meanwhile, so a slow server holds no lock."""
    by_channel = defaultdict(list)  # (rank, channel): its messages
    for message in outgoing:
        by_channel[(urgency_rank(message), message.channel)].append(message)
    for (_, channel), batch in sorted(by_channel.items(), key=lambda entry: entry[0][0]):
        done = set()
        try:
            if channel not in names():
                raise LookupError(f"no channel named {channel!r} on this server")
            ready, why = channel_class(channel).available(config)
            if not ready:  # the server lacks what the channel needs: tried again later, as it may be fixed
                for message in batch:
                    done.add(message.ids)
                    on_result(Result.failed(message, why))
                continue
            for result in get_channel(channel, config).send(batch):
                done.add(result.message.ids)
                on_result(result)
        except Exception as e:  # a bug in a channel must not leave its rows "sending" until the lease ends
            log.exception("channel %s failed", channel)
            for message in batch:
                if message.ids not in done:
                    on_result(Result.failed(message, f"The {channel} channel failed ({type(e).__name__}).",
                                            retry=not isinstance(e, LookupError)))


class Recorder:
    """Writes each message's fate to its rows at once (one commit per message), only where this
    sender still holds the claim (same status and attempt count)."""

    def __init__(self, batch, now, max_attempts, backoff_seconds):
        self.attempts = {row.id: row.attempts for row in batch}
        self.now, self.max_attempts, self.backoff_seconds = now, max_attempts, backoff_seconds
        self.outcome = Counter()

    def __call__(self, result):
        table = Delivery.__table__
        if dialect_name() == "postgresql":
            # Without waiting for the WAL flush: a database crash can lose the last moments' records
            # (those messages go again, like a process killed before recording), never corrupt them.
            db.session.execute(text("SET LOCAL synchronous_commit TO OFF"))
        for row_id in result.message.ids:
            tries = self.attempts[row_id]
            held = (table.c.id == row_id, table.c.status == "sending", table.c.attempts == tries)
            if result.ok:
                values = dict(status="sent", provider_id=result.provider_id, sent_at=self.now, claimed_until=None,
                              last_error=None)
                self.outcome["sent"] += 1
            else:
                status = "dead" if not result.retry or tries >= self.max_attempts else "failed"
                values = dict(status=status, last_error=result.error, claimed_until=None,
                              next_attempt_at=self.now if status == "dead" else self.retry_at(tries, result))
                self.outcome[status] += 1
            db.session.execute(update(table).where(*held).values(**values))
        if result.gone:  # the provider says the recipient no longer exists: stop sending to it
            recipients.forget(result.message.client_id, result.message.channel, result.message.recipient)
        if result.ok and result.provider_id and channel_class(result.message.channel).receipt_path:
            receipts.apply_kept(result.provider_id, self.now)  # a receipt that came before this answer
        db.session.commit()

    def retry_at(self, tries, result):
        """The next attempt: after the backoff, and never before the provider's asked wait."""
        wait = outbox.backoff_delay(tries, self.backoff_seconds)
        if result.retry_after:
            wait = max(wait, timedelta(seconds=result.retry_after))
        return self.now + wait

    def hold(self, message, zone, cap):
        """Over the shop's daily cap: back to pending until the shop's next midnight, no attempt spent."""
        table = Delivery.__table__
        for row_id in message.ids:
            db.session.execute(update(table).where(
                table.c.id == row_id, table.c.status == "sending", table.c.attempts == self.attempts[row_id]).values(
                status="pending", attempts=table.c.attempts - 1, claimed_until=None,
                next_attempt_at=local_midnight(zone, self.now, 1),
                last_error=f"The shop's daily limit of {cap} messages is reached; this waits for tomorrow."))
            self.outcome["held"] += 1
        db.session.commit()


class Dispatcher(PeriodicWorker):
    """The daemon thread: every DELIVERY_POLL_SECONDS (at once while full batches keep coming),
    queue due digests, then claim, send and record one batch."""

    thread_name = "delivery-dispatcher"

    def __init__(self, app, poll_seconds=None, batch_size=BATCH_SIZE, lease_seconds=LEASE_SECONDS):
        super().__init__(app, poll_seconds if poll_seconds is not None else app.config["DELIVERY_POLL_SECONDS"])
        self.batch_size = batch_size
        self.lease_seconds = lease_seconds
        self.totals = Counter()
        self.listener = None
        self.next_due_at = None  # when the next waiting row falls due (outbox.next_due), after a cycle
        wakeup.listen_here(self)

    def start(self):
        """The thread, and on PostgreSQL a LISTEN connection that wakes it (other processes' rows)."""
        super().start()
        with self.app.app_context():
            if dialect_name() == "postgresql" and self.listener is None:
                self.listener = wakeup.Listener(self.app, db.engine.url, self.wake).start()

    def signal_stop(self):
        super().signal_stop()
        if self.listener is not None:
            self.listener.signal_stop()

    def stop(self, timeout=30):
        """The thread as any worker's; the listener (a daemon blocked at most a second in its wait)
        is told at once and not waited for beyond the same deadline."""
        listener, self.listener = self.listener, None
        if listener is not None:
            listener.signal_stop()
        started = time.monotonic()
        super().stop(timeout)
        if listener is not None:
            listener.stop(max(0.0, timeout - (time.monotonic() - started)))

    def cycle(self, now=None):
        """Returns the counts of what it did (digests, claimed, sent, failed, dead). `now` fixes
        the clock, for tests; by default the wall clock."""
        config = self.app.config
        self.next_due_at = None  # unknown until this cycle ends (a failed cycle: the poll)
        counts = Counter(digests=enqueue_due_digests(now or utcnow()))
        limits.prune(now or utcnow())
        retention.prune_due(now or utcnow())  # its own short transactions
        db.session.commit()
        gather = outbox.gathering_kinds(config)
        claimed_at = now or utcnow()
        batch = claim(self.batch_size, claimed_at, self.lease_seconds, gather)
        counts["claimed"] = len(batch)
        if batch:
            recorder = Recorder(batch, now or utcnow(), config["DELIVERY_MAX_ATTEMPTS"],
                                config["DELIVERY_BACKOFF_SECONDS"])
            batch, stopped = still_addressed(batch)
            for message in messages_of(stopped):  # each alone: no cap spent, nothing sent
                recorder(Result.failed(message, STOPPED, retry=False))
            cap = config["SHOP_DAILY_MESSAGE_CAP"]
            ready, held = within_cap(messages_of(batch, gather), now or utcnow(), cap)
            for message, zone in held:
                recorder.hold(message, zone, cap)
            send(ready, config, recorder)
            counts.update(recorder.outcome)
            log.info("deliveries: %d claimed, %d sent, %d failed, %d dead, %d held", len(batch), counts["sent"],
                     counts["failed"], counts["dead"], counts["held"])
        self.totals.update({k: v for k, v in counts.items() if k != "claimed"})
        self.next_due_at = outbox.next_due(claimed_at)  # one due since the claim: a cycle at once
        db.session.commit()
        return dict(counts)

    def more_due(self, counts):
        return bool(counts) and counts["claimed"] >= self.batch_size

    def wait_after(self, counts):
        """The poll, or less: until the next waiting row falls due, so that an alert gathering
        company leaves when its priority's wait ends (API.md), not at the next poll after it."""
        wait = super().wait_after(counts)
        if self.next_due_at is None:
            return wait
        return max(0.0, min(wait, (self.next_due_at - utcnow()).total_seconds()))

    def status(self):
        return {**super().status(), "sent": self.totals["sent"], "failed": self.totals["failed"],
                "dead": self.totals["dead"]}
