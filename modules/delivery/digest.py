"""Digest mode: one message per shop, channel and recipient per shop-local day at `digest_time`,
listing every product that alerted since the shop's last digest (a location's list: that
location's only). Run from the dispatcher loop."""
import logging
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, select, update

from ..auth.models import Client
from ..extensions import db
from ..retail import locations
from ..retail.models import Category, Location, Product, ProductStock
from . import messages
from ..alerts import kinds
from ..alerts.models import StockAlertLog
from ..auth.models import NotificationSettings
from ..auth.settings import shop_threshold
from ..auth.tenancy import for_shop, owned_by
from ..retail import rules as stock_rules
from ..timeutil import isoformat
from . import recipients
from .models import Recipient
from .outbox import add_deliveries, message_row

log = logging.getLogger(__name__)


def digest_instant(tz_name, digest_time, now):
    """(shop-local date, naive-UTC instant of that date's digest) for the instant `now`."""
    zone = ZoneInfo(tz_name)
    local_day = now.replace(tzinfo=timezone.utc).astimezone(zone).date()
    hours, minutes = (int(part) for part in digest_time.split(":"))
    due = datetime.combine(local_day, time(hours, minutes), tzinfo=zone)
    return local_day, due.astimezone(timezone.utc).replace(tzinfo=None)


def enqueue_due_digests(now):
    """Queue today's digest of every digest-mode shop whose digest time has passed and that has
    not had it yet. Each shop is its own transaction (committed here). Returns the shops done."""
    digest_readers = (select(Recipient.client_id).where(
        Recipient.enabled.is_(True), Recipient.opted_out_at.is_(None),
        func.coalesce(Recipient.mode, NotificationSettings.delivery_mode) == "digest"))
    candidates = db.session.execute(
        select(NotificationSettings.client_id, Client.timezone, NotificationSettings.digest_time,
               NotificationSettings.last_digest_at)
        .join(Client, Client.id == NotificationSettings.client_id)
        .where(NotificationSettings.client_id.in_(digest_readers))
    ).all()
    db.session.rollback()  # end the read; each shop below is its own transaction
    done = 0
    for client_id, tz_name, digest_time, last in candidates:
        local_day, due_at = digest_instant(tz_name, digest_time, now)
        if now < due_at or (last is not None and last >= due_at):
            continue
        try:
            if _digest_shop(client_id, local_day, last, due_at - timedelta(days=1), now):
                done += 1
            db.session.commit()
        except Exception:
            db.session.rollback()
            log.exception("digest of shop %s failed", client_id)
    return done


def _digest_shop(client_id, local_day, last, day_before, now):
    """Take the shop's digest for today (compare-and-set on last_digest_at, so two dispatchers
    never build it both) and queue it. Returns how many messages were queued."""
    previous = (NotificationSettings.last_digest_at.is_(None) if last is None
                else NotificationSettings.last_digest_at == last)
    taken = db.session.execute(
        update(NotificationSettings).where(owned_by(NotificationSettings, client_id), previous)
        .values(last_digest_at=now), execution_options={"synchronize_session": False})
    if taken.rowcount != 1:
        return 0
    items = digest_items(client_id, last or day_before, now)
    if not items:
        return 0
    shop = db.session.execute(select(Client.name).where(Client.id == client_id)).scalar_one()
    key = f"digest:{client_id}:{local_day.isoformat()}"
    rows = []
    for (channel, address), wanted in heard_by_address(recipients.targets([client_id], mode="digest")
                                                       .get(client_id, []), items).items():
        notice = messages.Notice("digest", client_id, shop, wanted, date=local_day.isoformat(),
                                 created_at=isoformat(now))
        rows.append(message_row(client_id, key, channel, address, notice, now))
    queued = add_deliveries(rows)
    log.info("queued the %s digest of shop %s: %d product(s), %d message(s)", local_day, client_id,
             len(items), queued)
    return queued


def heard_by_address(targets, items):
    """{(channel, address): the items it hears, in the digest's order}: one message per address
    whatever lists it is on (the shop's, a location's, a person's own), listing what any of them
    hears: the kinds it wants and, on a location's list or for a person limited to some places,
    those places' items only."""
    heard = {}
    for target in targets:
        address, indexes = heard.setdefault((target.channel, target.address.lower()), (target.address, set()))
        indexes.update(n for n, item in enumerate(items)
                       if target.wants(item.kind) and target.hears_at(item.location["id"]))
    return {(channel, address): tuple(items[n] for n in sorted(indexes))
            for (channel, _), (address, indexes) in heard.items() if indexes}


def digest_items(client_id, since, now):
    """One item per product and location that alerted in (since, now], as it stands now there:
    out or low with its current stock; else its last alert as its kind says (`when_restocked`: a
    low or out one was restocked since; a forecast still says so). Archived, snoozed and muted
    products are left out. In a shop of two or more active locations each item names its place."""
    latest = (for_shop(StockAlertLog, client_id, func.max(StockAlertLog.id).label("id"))
              .where(StockAlertLog.created_at > since, StockAlertLog.created_at <= now)
              .group_by(StockAlertLog.product_id, StockAlertLog.location_id).subquery())
    shop_default = shop_threshold(client_id)
    places = locations.active_count(client_id)
    rows = db.session.execute(
        select(Product.name, Category.name, ProductStock.stock, Product.low_stock_threshold,
               Category.low_stock_threshold, StockAlertLog.kind, StockAlertLog.days_left, Product.id, Product.sku,
               ProductStock.low_stock_threshold, Location.id, Location.name)
        .select_from(latest)
        .join(StockAlertLog, StockAlertLog.id == latest.c.id)
        .join(Product, Product.id == StockAlertLog.product_id)
        .join(ProductStock, and_(ProductStock.product_id == StockAlertLog.product_id,
                                 ProductStock.location_id == StockAlertLog.location_id))
        .join(Location, and_(Location.id == StockAlertLog.location_id, Location.active.is_(True)))
        .outerjoin(Category, Category.id == Product.category_id)
        .where(Product.active.is_(True), stock_rules.sql_not_snoozed(Product.snoozed_until, Product.muted, now))
        .order_by(StockAlertLog.id)
    ).all()
    items = []
    detail = kinds.message_details([(row[5], row[7]) for row in rows])
    for name, category, stock, own, category_threshold, kind, days_left, product_id, sku, here, lid, lname in rows:
        threshold = stock_rules.effective_threshold(own, category_threshold, shop_default, here)
        status = stock_rules.stock_status(stock, threshold)
        if status != "ok":
            kind, days_left = status, None  # the stock rule's status is the name of its kind
        elif kinds.get(kind).when_restocked:
            kind, days_left = kinds.get(kind).when_restocked, None
        items.append(messages.AlertItem(name, category, stock, threshold, kind, days_left, product_id, sku,
                                        detail.get((kind, product_id)), place=locations.place(lname, places),
                                        location={"id": lid, "name": lname}))
    return items


__all__ = ["digest_instant", "digest_items", "enqueue_due_digests", "heard_by_address"]
