"""The outbox: deliveries rows written in the alert's transaction, sent later by the dispatcher.

Writers only add rows (INSERT ... ON CONFLICT DO NOTHING on (dedupe_key, channel, recipient)), so
running the same enqueue twice never queues a message twice; the caller commits.
"""
import logging
import uuid
from datetime import timedelta

from flask import current_app
from sqlalchemy import DateTime, Insert, String, and_, bindparam, case, cast, func, literal, null, or_, select
from sqlalchemy.ext.compiler import compiles

from ..alerts.models import StockAlertLog
from ..alerts.signals import alerts_raised
from ..auth.models import Client
from ..dialect import custom_plans, id_in, insert
from ..extensions import db
from ..retail.models import Category, Location, Product
from ..timeutil import isoformat, utcnow
from ..alerts import kinds
from ..purchasing.signals import order_sent
from . import messages, recipients, wakeup
from .channels import all_channels
from .models import Delivery, Recipient

log = logging.getLogger(__name__)


def message_row(client_id, key, channel, address, notice, now, alert_log_id=None, due_at=None):
    """One outbox row; `notice` is what it says (its payload), rendered by the channel when sent."""
    return {
        "client_id": client_id, "alert_log_id": alert_log_id, "dedupe_key": key, "channel": channel,
        "recipient": address, "subject": messages.one_line(notice.subject)[:255], "body": "", "html_body": None,
        "payload": notice.payload(),
        "status": "pending", "attempts": 0, "next_attempt_at": due_at or now, "created_at": now,
    }


def add_deliveries(rows):
    """Insert outbox rows; a row whose (dedupe_key, channel, recipient) exists is skipped.
    Returns how many rows were given (the database drops the duplicates)."""
    if rows:
        stmt = insert(Delivery).on_conflict_do_nothing(index_elements=["dedupe_key", "channel", "recipient"])
        db.session.execute(stmt, rows)
    return len(rows)


@alerts_raised.connect
def on_alerts_raised(sender, alerts, now, user_id=None):
    enqueue_alert_deliveries(alerts, now)


def _shops(client_ids):
    """{shop id: (name, time zone)}."""
    return {id_: (name, tz) for id_, name, tz in db.session.execute(
        select(Client.id, Client.name, Client.timezone)
        .where(Client.id.in_(bindparam("ids", list(client_ids), expanding=True)))).all()}


def waits(config):
    """{priority: how long a row on a gathering channel waits for others to go with it}: critical
    ones leave at once, important ones wait DELIVERY_COALESCE_SECONDS, normal ones
    DELIVERY_NORMAL_BATCH_SECONDS (API.md, "Priority")."""
    return {"critical": timedelta(0),
            "important": timedelta(seconds=float(config.get("DELIVERY_COALESCE_SECONDS") or 0)),
            "normal": timedelta(seconds=float(config.get("DELIVERY_NORMAL_BATCH_SECONDS") or 0))}


def gathering_kinds(config):
    """The alert kinds whose rows to one recipient go as one message: those whose priority waits
    (critical ones too, while low ones wait: an empty shelf takes the waiting ones along). With
    DELIVERY_COALESCE_SECONDS=0 every out and low alert goes on its own, at once."""
    wait = waits(config)
    return frozenset(k.name for k in kinds.KINDS.values()
                     if wait["normal" if k.priority == "normal" else "important"] > timedelta(0))


def enqueue_alert_deliveries(new_alerts, now):
    """Queue a row per new alert and instant-mode address that wants its kind: one INSERT ...
    SELECT over the alerts, their products and the shops' recipients, the payload built in SQL
    (messages.sql_alert_payload), so no row passes through Python. Rows on channels that gather a
    burst wait as their kind's priority says, so that the alerts that follow within that time go
    with them as one message. New rows wake the dispatchers once committed: those due now leave
    at once, and a dispatcher's next cycle comes when the others fall due (Dispatcher.wait_after),
    not at its next poll after that. Per call: the INSERT (planned for its own ids on PostgreSQL)."""
    if not new_alerts:
        return
    with custom_plans():
        queued = db.session.execute(_alert_rows(new_alerts, now)).rowcount
    if queued:
        wakeup.rows_queued()


ALERT_COLUMNS = ["client_id", "alert_log_id", "dedupe_key", "channel", "recipient", "subject", "body", "html_body",
                 "payload", "status", "attempts", "next_attempt_at", "created_at"]


def _alert_rows(new_alerts, now):
    """INSERT ... SELECT of the outbox rows of these alerts (message_row's columns, in SQL)."""
    kind = StockAlertLog.kind
    source = recipients.join_targets(
        select(StockAlertLog.client_id, StockAlertLog.id, literal("alert:") + cast(StockAlertLog.id, String),
               Recipient.channel, Recipient.address, messages.sql_alert_subject(kind, Product.name, Client.name),
               literal(""), null(), messages.sql_alert_payload(now), literal("pending"), literal(0),
               _sql_due(kind, Recipient.channel, now), literal(now, DateTime))
        .join(Product, Product.id == StockAlertLog.product_id)
        .outerjoin(Category, Category.id == Product.category_id)
        .join(Client, Client.id == StockAlertLog.client_id)
        .join(Location, Location.id == StockAlertLog.location_id)
        .where(id_in(StockAlertLog.id, [a.log_id for a in new_alerts])),
        StockAlertLog.client_id, kind, mode="instant", location_col=StockAlertLog.location_id)
    return QueueOnce(Delivery.__table__).from_select(ALERT_COLUMNS, source)


class QueueOnce(Insert):
    """INSERT ... ON CONFLICT (dedupe_key, channel, recipient) DO NOTHING, the same SQL on SQLite
    and PostgreSQL, as a statement SQLAlchemy compiles once and caches: the dialects' inserts with
    on_conflict_do_nothing() are compiled again on every execution (milliseconds per chunk of alerts)."""

    inherit_cache = True


@compiles(QueueOnce)
def _compile_queue_once(stmt, compiler, **kw):
    return compiler.visit_insert(stmt, **kw) + " ON CONFLICT (dedupe_key, channel, recipient) DO NOTHING"


def _sql_due(kind_col, channel_col, now):
    """When a row is due, over columns: at once on a channel that does not gather, else after its
    kind's priority's wait (outbox.waits)."""
    wait = waits(current_app.config)
    by_priority = {}
    for k in kinds.KINDS.values():
        by_priority.setdefault(k.priority, []).append(k.name)
    later = case(*((kind_col.in_(names), literal(now + wait[priority], DateTime))
                   for priority, names in by_priority.items()),
                 else_=literal(now + wait[kinds.get("").priority], DateTime))
    gathering = [cls.name for cls in all_channels() if cls.coalesce]
    return case((channel_col.in_(gathering), later), else_=literal(now, DateTime))


def enqueue_test(client_id, channel, now=None):
    """Queue a test message to the shop's enabled addresses of one channel; returns how many.
    The rows are due now: the dispatchers wake once they are committed, not at their next poll."""
    now = now or utcnow()
    notice = messages.Notice("test", client_id, _shops([client_id])[client_id][0], channel=channel,
                             created_at=isoformat(now))
    key = f"test:{uuid.uuid4().hex}"
    rows = [message_row(client_id, key, channel, t.address, notice, now)
            for t in recipients.targets([client_id]).get(client_id, []) if t.channel == channel and t.user_id is None]
    if rows:
        wakeup.rows_queued()
    return add_deliveries(rows)


# The rows queued for the shop's recipients (its lists, a person's own address or device), by key:
# an alert, a digest, a test message. A purchase order ("order:") goes to its supplier instead.
RECIPIENT_KEYS = ("alert:", "digest:", "test:")


def to_recipients(dedupe_key):
    """Whether an outbox row goes to one of the shop's recipients, an address that may opt out
    or be removed while the row waits."""
    return dedupe_key.startswith(RECIPIENT_KEYS)


@order_sent.connect
def on_order_sent(sender, client_id, order, now):
    enqueue_order(client_id, order, now)


def enqueue_order(client_id, order, now):
    """Queue a purchase order to its supplier on the channel that carries orders; sent, retried
    and shown on the deliveries page like any other row."""
    channel = next(cls.name for cls in all_channels() if cls.carries_orders)
    notice = messages.Notice("purchase_order", client_id, order["shop"], created_at=isoformat(now), order=order)
    queued = add_deliveries([message_row(client_id, f"order:{order['id']}", channel, order["supplier"]["email"],
                                         notice, now)])
    wakeup.rows_queued()
    log.info("queued purchase order %s of shop %s", order["number"], client_id)
    return queued


# --- what the dispatcher and /health read ---------------------------------------------------------

def due_clause(now):
    """Rows to send now: pending or failed and due, or claimed by a sender whose lease ran out."""
    return or_(
        and_(Delivery.status.in_(("pending", "failed")), Delivery.next_attempt_at <= now),
        and_(Delivery.status == "sending", Delivery.claimed_until < now),
    )


def first_tries(now):
    """The due rows never tried yet (pending: a failed or lapsed row has been tried)."""
    return and_(Delivery.status == "pending", Delivery.next_attempt_at <= now)


def next_due(now):
    """When the next waiting row falls due after `now` (pending or failed), over every shop; None
    when none waits. Rows due already are left out: another dispatcher may hold them."""
    return db.session.execute(select(func.min(Delivery.next_attempt_at)).where(
        Delivery.status.in_(("pending", "failed")), Delivery.next_attempt_at > now)).scalar()


def oldest_due(now):
    """When the longest-waiting row of the outbox became due (a claimed row: when its lease ran
    out), over every shop; None when nothing is due. A time, not a count: /health shows it to anyone."""
    due_since = case((Delivery.status == "sending", Delivery.claimed_until), else_=Delivery.next_attempt_at)
    return db.session.execute(select(func.min(due_since)).where(due_clause(now))).scalar()


def counts(now):
    """Over every shop: "due" (to send now), "retrying" (failed, waiting for their next attempt:
    an outage shows here) and "dead" (gave up)."""
    due, retrying, dead = db.session.execute(
        select(func.count(Delivery.id).filter(due_clause(now)),
               func.count(Delivery.id).filter(Delivery.status == "failed"),
               func.count(Delivery.id).filter(Delivery.status == "dead"))
    ).one()
    return {"due": due, "retrying": retrying, "dead": dead}


def backoff_delay(attempts, base_seconds):
    """The wait before the next attempt after `attempts` tries: base, 2x base, 4x base, ..."""
    return timedelta(seconds=base_seconds * 2 ** min(max(attempts - 1, 0), 20))
