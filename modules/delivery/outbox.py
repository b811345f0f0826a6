"""The outbox: deliveries rows written in the alert's transaction, sent later by the dispatcher.

Writers only add rows (INSERT ... ON CONFLICT DO NOTHING on (dedupe_key, channel, recipient)), so
running the same enqueue twice never queues a message twice; the caller commits.
"""
import logging
import uuid
from datetime import timedelta

from flask import current_app
from sqlalchemy import and_, bindparam, func, or_, select

from ..auth.models import Client
from ..dialect import insert
from ..extensions import db
from ..retail.models import Category, Product
from ..timeutil import utcnow
from . import messages
from ..alerts.models import StockAlertLog
from ..alerts.signals import alerts_raised
from ..auth.models import NotificationSettings
from ..auth.settings import get_settings
from .models import CHANNELS, Delivery

log = logging.getLogger(__name__)
TEXT_CHANNELS = ("whatsapp", "sms")  # short bodies, no subject or HTML on the wire


def message_row(client_id, key, channel, recipient, message, now, alert_log_id=None):
    short = channel in TEXT_CHANNELS
    return {
        "client_id": client_id, "alert_log_id": alert_log_id, "dedupe_key": key, "channel": channel,
        "recipient": recipient, "subject": message.subject[:255],
        "body": message.short if short else message.body, "html_body": None if short else message.html_body,
        "status": "pending", "attempts": 0, "next_attempt_at": now, "created_at": now,
    }


def add_deliveries(rows):
    """Insert outbox rows; a row whose (dedupe_key, channel, recipient) exists is skipped.
    Returns how many rows were given (the database drops the duplicates)."""
    if rows:
        stmt = insert(Delivery).on_conflict_do_nothing(index_elements=["dedupe_key", "channel", "recipient"])
        db.session.execute(stmt, rows)
    return len(rows)


def any_channel_enabled():
    return or_(NotificationSettings.email_enabled.is_(True), NotificationSettings.whatsapp_enabled.is_(True),
               NotificationSettings.sms_enabled.is_(True))


@alerts_raised.connect
def on_alerts_raised(sender, alerts, now, user_id=None):
    enqueue_alert_deliveries(alerts, now)


def enqueue_alert_deliveries(new_alerts, now):
    """Queue email/WhatsApp/SMS messages for new alerts of shops in instant mode: one row per
    alert, channel and recipient. Two queries and one INSERT per chunk of alerts."""
    client_ids = sorted({a.client_id for a in new_alerts})
    if not client_ids:
        return 0
    shops = {
        s.client_id: (s, name) for s, name in db.session.execute(
            select(NotificationSettings, Client.name)
            .join(Client, Client.id == NotificationSettings.client_id)
            .where(NotificationSettings.client_id.in_(bindparam("ids", client_ids, expanding=True)),
                   NotificationSettings.delivery_mode == "instant", any_channel_enabled())
        ).all()
    }
    wanted = [a.log_id for a in new_alerts if a.client_id in shops]
    if not wanted:
        return 0
    details = dict((row[0], row[1:]) for row in db.session.execute(
        select(StockAlertLog.id, Product.name, Category.name)
        .join(Product, Product.id == StockAlertLog.product_id)
        .outerjoin(Category, Category.id == Product.category_id)
        .where(StockAlertLog.id.in_(bindparam("log_ids", wanted, expanding=True)))
    ))
    public_url = current_app.config["PUBLIC_URL"]
    rows = []
    for alert in new_alerts:
        if alert.client_id not in shops or alert.log_id not in details:
            continue
        settings, shop_name = shops[alert.client_id]
        product, category = details[alert.log_id]
        message = messages.alert_message(
            shop_name, messages.AlertItem(product, category, alert.stock, alert.threshold, alert.kind, alert.days_left),
            public_url)
        for channel in CHANNELS:
            for recipient in settings.recipients(channel):
                rows.append(message_row(alert.client_id, f"alert:{alert.log_id}", channel, recipient, message, now,
                                 alert_log_id=alert.log_id))
    queued = add_deliveries(rows)
    if queued:
        log.info("queued %d alert message(s) for %d shop(s)", queued, len(shops))
    return queued


def enqueue_test(client_id, channel, now=None):
    """Queue a test message to the shop's recipients of one channel; returns how many."""
    now = now or utcnow()
    settings = get_settings(client_id)
    message = messages.test_message(settings.client.name, channel, current_app.config["PUBLIC_URL"])
    key = f"test:{uuid.uuid4().hex}"
    return add_deliveries([message_row(client_id, key, channel, r, message, now) for r in settings.recipients(channel)])


# --- what the dispatcher and /health read ---------------------------------------------------------

def due_clause(now):
    """Rows to send now: pending or failed and due, or claimed by a sender whose lease ran out."""
    return or_(
        and_(Delivery.status.in_(("pending", "failed")), Delivery.next_attempt_at <= now),
        and_(Delivery.status == "sending", Delivery.claimed_until < now),
    )


def counts(now):
    """Over every shop: "due" (to send now), "retrying" (failed, waiting for their next attempt:
    an outage shows here) and "dead" (gave up)."""
    due, retrying, dead = db.session.execute(
        select(func.count(Delivery.id).filter(due_clause(now)),
               func.count(Delivery.id).filter(Delivery.status == "failed"),
               func.count(Delivery.id).filter(Delivery.status == "dead"))
    ).one()
    return {"due": due, "retrying": retrying, "dead": dead}


def template_variables(deliveries):
    """WhatsApp template variables per delivery id: {"1": product, "2": stock, "3": shop}.
    Digests and tests, which name no single product, put their subject in "1"."""
    log_ids = sorted({d.alert_log_id for d in deliveries if d.alert_log_id})
    client_ids = sorted({d.client_id for d in deliveries})
    alerts = {}
    if log_ids:
        alerts = {row[0]: row[1:] for row in db.session.execute(
            select(StockAlertLog.id, Product.name, StockAlertLog.stock_level)
            .join(Product, Product.id == StockAlertLog.product_id)
            .where(StockAlertLog.id.in_(bindparam("log_ids", log_ids, expanding=True))))}
    shops = dict(db.session.execute(
        select(Client.id, Client.name).where(Client.id.in_(bindparam("ids", client_ids, expanding=True)))).all())
    out = {}
    for d in deliveries:
        shop = shops.get(d.client_id, "")
        if d.alert_log_id in alerts:
            product, stock = alerts[d.alert_log_id]
            out[d.id] = {"1": product, "2": str(stock), "3": shop}
        else:
            out[d.id] = {"1": d.subject, "2": "-", "3": shop}
    return out


def backoff_delay(attempts, base_seconds):
    """The wait before the next attempt after `attempts` tries: base, 2x base, 4x base, ..."""
    return timedelta(seconds=base_seconds * 2 ** min(max(attempts - 1, 0), 20))
