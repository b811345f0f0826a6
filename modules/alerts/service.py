"""raise_alerts(): the one path that writes alerts, for the monitor and for stock changes alike.

A few set-based statements per call, in the caller's transaction: for each time zone in scope and
each alert kind, one INSERT ... SELECT into the daily log (the UNIQUE (client_id, product_id, kind,
alert_date) constraint decides what is new) RETURNING the new rows; then the alert episodes, and
`alerts_raised` for the bell and the outbox, for the new rows only.
"""
import gc
import logging
from contextlib import contextmanager
from typing import NamedTuple

from sqlalchemy import and_, func, literal, not_, or_, select, update

from .. import dialect
from ..auth.models import Client, NotificationSettings
from ..auth.tenancy import owned_by
from ..dialect import id_in, insert
from ..extensions import db
from ..retail import rules as stock_rules
from ..retail.models import Category, Location, Product, ProductStock
from ..retail.signals import stock_changed
from ..timeutil import isoformat, local_date, utcnow
from . import kinds
from .models import StockAlert, StockAlertLog
from .scan import LOG_COLUMNS, Scan, shops_enabled, sql_place_threshold
from .signals import announce

log = logging.getLogger(__name__)
CHUNK = 50_000  # new alerts per round of episodes, bell and outbox (their ids go as one parameter: dialect.id_in)


class NewAlert(NamedTuple):
    """A row the log took today (a tuple: thousands are made per cycle)."""
    log_id: int
    client_id: int
    product_id: int
    location_id: int
    kind: str
    stock: int
    threshold: int
    days_left: int | None = None

    @property
    def level(self):
        return kinds.get(self.kind).level


@contextmanager
def _collector_paused():
    """Python's cycle collector off while a first cycle's tens of thousands of rows are built (plain
    tuples, no cycles among them): each allocation burst otherwise sets off full collections that
    walk the whole process's heap (0.1 s of a 1.7 s cycle at 41,000 new rows)."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def _scans(client_id, product_ids, now):
    """One Scan per time zone of the enabled shops in scope (one query)."""
    stmt = (select(Client.timezone).distinct()
            .outerjoin(NotificationSettings, NotificationSettings.client_id == Client.id)
            .where(shops_enabled()))
    if client_id is not None:
        stmt = stmt.where(Client.id == client_id)
    return [Scan(timezone, local_date(timezone, now), now, client_id, product_ids)
            for timezone in db.session.execute(stmt).scalars().all()]


def _log_new(scan):
    """Every kind's rule into the daily log; the new rows only."""
    new = []
    for name, kind in kinds.KINDS.items():
        for source in kind.rule(scan.of(name)):
            stmt = (
                insert(StockAlertLog).from_select(LOG_COLUMNS, source)
                .on_conflict_do_nothing(index_elements=["client_id", "product_id", "location_id", "kind", "alert_date"])
                .returning(StockAlertLog.id, StockAlertLog.client_id, StockAlertLog.product_id,
                           StockAlertLog.location_id, StockAlertLog.kind,
                           StockAlertLog.stock_level, StockAlertLog.threshold_level, StockAlertLog.days_left)
            )
            # Core execution on the session's connection, same transaction: the ORM's result rows
            # cost twice as much per RETURNING row. Pending changes were autoflushed above.
            with _collector_paused():
                new.extend(map(NewAlert._make, db.session.connection().execute(stmt).all()))
    return new


def _raise(scans, client_id, product_ids, now, user_id=None):
    """(new alerts, the notification shown to `user_id` for the first of them, or None)."""
    new = []
    for scan in scans:
        new += _log_new(scan)
    _suggest(new)
    answer = None
    for start in range(0, len(new), CHUNK):
        chunk = new[start:start + CHUNK]
        _open_episodes([a.log_id for a in chunk if kinds.get(a.kind).opens_episode], now)
        shown = announce(chunk, now, user_id)
        answer = answer or shown
    _resolve_restocked(client_id, product_ids, now)
    if new:
        log.info("raised %d new alert(s)", len(new))
    return new, answer


SUGGESTING = ("low", "out")  # the kinds that say where stock can come from


def _suggest(new):
    """Write the transfer suggestion on new low and out alerts of shops with two or more active
    locations, as retail's locations.suggested_transfers() chooses it (the other active location with the
    most stock above its own threshold there, the lowest id among equals), for every shop at once:
    one query finds those shops, then one UPDATE per CHUNK alerts has the database pick and write
    each suggestion (read into Python and written back, 15,000 suggestions cost a second)."""
    wanted = [a for a in new if a.kind in SUGGESTING]
    if not wanted:
        return
    shops = set(db.session.execute(
        select(Location.client_id).where(Location.client_id.in_({a.client_id for a in wanted}), Location.active.is_(True))
        .group_by(Location.client_id).having(func.count() >= 2)).scalars())
    ids = [a.log_id for a in wanted if a.client_id in shops]
    if not ids:
        return
    spare = ProductStock.stock - sql_place_threshold()
    best = (select(dialect.json_object(("from_location", dialect.json_object(("id", Location.id), ("name", Location.name))),
                                       ("spare", spare)))
            .select_from(ProductStock)
            .join(Product, Product.id == ProductStock.product_id)
            .join(Location, and_(Location.id == ProductStock.location_id, Location.active.is_(True)))
            .outerjoin(NotificationSettings, NotificationSettings.client_id == ProductStock.client_id)
            .outerjoin(Category, Category.id == Product.category_id)
            .where(ProductStock.product_id == StockAlertLog.product_id,
                   ProductStock.location_id != StockAlertLog.location_id, spare > 0)
            .order_by(spare.desc(), Location.id).limit(1)
            .correlate(StockAlertLog).scalar_subquery())
    for start in range(0, len(ids), CHUNK):
        db.session.execute(update(StockAlertLog).where(id_in(StockAlertLog.id, ids[start:start + CHUNK]))
                           .values(suggestion=best), execution_options={"synchronize_session": False})


def raise_alerts(client_id=None, product_ids=None, now=None) -> list[NewAlert]:
    """Log today's alerts of every kind for the products in scope (all shops, one shop, or some
    of its products) and write what follows from the new ones. Returns the new alerts; commits
    nothing."""
    ids = tuple(product_ids) if product_ids is not None else None
    now = now or utcnow()
    return _raise(_scans(client_id, ids, now), client_id, ids, now)[0]


EPISODE_KEY = ["product_id", "location_id"]  # at most one open episode per product and location


def _open_episodes(ids, now):
    """Open an episode per place, or touch the one already open (at most one per place)."""
    if not ids:
        return
    source = select(
        StockAlertLog.client_id, StockAlertLog.product_id, StockAlertLog.location_id,
        stock_rules.sql_level(StockAlertLog.stock_level),
        StockAlertLog.stock_level, StockAlertLog.threshold_level, literal(now), literal(now),
    ).where(id_in(StockAlertLog.id, ids))
    stmt = insert(StockAlert).from_select(
        ["client_id", "product_id", "location_id", "level", "stock_at_alert", "threshold", "opened_at",
         "last_notified_at"],
        source,
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=EPISODE_KEY,
        index_where=StockAlert.resolved_at.is_(None),
        set_={"last_notified_at": stmt.excluded.last_notified_at, "level": stmt.excluded.level,
              "stock_at_alert": stmt.excluded.stock_at_alert, "threshold": stmt.excluded.threshold},
    )
    db.session.execute(stmt)


def _track_episodes(scans, now):
    """Keep the changed places' episodes in step with their stock between daily alerts: open
    one when a place goes low again the same day (no new notification), and follow its level."""
    for scan in scans:
        threshold, stock = scan.threshold, scan.stock
        source = scan.candidates(stock, threshold, literal(None)).where(stock <= threshold)
        source = source.with_only_columns(ProductStock.client_id, ProductStock.product_id, ProductStock.location_id,
                                          stock_rules.sql_level(stock), stock, threshold, literal(now))
        stmt = insert(StockAlert).from_select(
            ["client_id", "product_id", "location_id", "level", "stock_at_alert", "threshold", "opened_at"], source)
        stmt = stmt.on_conflict_do_update(index_elements=EPISODE_KEY, index_where=StockAlert.resolved_at.is_(None),
                                          set_={"level": stmt.excluded.level})
        db.session.execute(stmt)


def _resolve_restocked(client_id, product_ids, now):
    """Close the open episodes of places that are no longer low (restocked there, or the product
    archived, or the location made inactive)."""
    place = and_(ProductStock.product_id == StockAlert.product_id, ProductStock.location_id == StockAlert.location_id)
    not_low = (select(ProductStock.id).select_from(ProductStock)
               .join(Product, Product.id == ProductStock.product_id)
               .join(Location, Location.id == ProductStock.location_id)
               .outerjoin(NotificationSettings, NotificationSettings.client_id == ProductStock.client_id)
               .outerjoin(Category, Category.id == Product.category_id)
               .where(place, or_(Location.active.is_(False), not_(stock_rules.sql_is_low(
                   Product.active, ProductStock.stock, sql_place_threshold())))))
    stmt = update(StockAlert).where(StockAlert.resolved_at.is_(None), not_low.exists())
    if client_id is not None:
        stmt = stmt.where(owned_by(StockAlert, client_id))
    if product_ids is not None:
        stmt = stmt.where(StockAlert.product_id.in_(product_ids))
    db.session.execute(stmt.values(resolved_at=now), execution_options={"synchronize_session": False})


@stock_changed.connect
def on_stock_change(sender, client_id, product_ids, user_id=None, every=False):
    """Retail's stock change, answered in the same transaction: check the changed products, all
    at once; returns the bell notification raised for `user_id` (JSON-ready), or None; with
    `every`, the list of every alert raised (described as a notification is)."""
    now = utcnow()
    ids = tuple(product_ids)
    scans = _scans(client_id, ids, now)
    new, answer = _raise(scans, client_id, ids, now, user_id)
    _track_episodes(scans, now)
    return describe(new) if every else answer


def describe(new_alerts):
    """Each new alert as the bell shows it (type, kind, level, message, action_url), in order."""
    if not new_alerts:
        return []
    kind, stock = StockAlertLog.kind, StockAlertLog.stock_level
    rows = db.session.execute(
        select(StockAlertLog.id, kind, kinds.sql_level(kind),
               kinds.sql_message(kind, Product.name, stock, Category.name, StockAlertLog.days_left,
                                 kinds.sql_log_place()),
               kinds.sql_action_url(kind, Product.id), Product.id, StockAlertLog.created_at, Location.id, Location.name,
               StockAlertLog.suggestion)
        .join(Product, Product.id == StockAlertLog.product_id)
        .join(Location, Location.id == StockAlertLog.location_id)
        .outerjoin(Category, Category.id == Product.category_id)
        .where(id_in(StockAlertLog.id, [a.log_id for a in new_alerts])).order_by(StockAlertLog.id)).all()
    return [{"type": "alert", "kind": k, "level": level, "message": message, "action_url": url,
             "product_id": product_id, "location": {"id": lid, "name": lname}, "suggestion": suggestion,
             "created_at": isoformat(created)}
            for _, k, level, message, url, product_id, created, lid, lname, suggestion in rows]


def resolve_alert(alert, user_id, now=None):
    alert.resolved_at = now or utcnow()
    alert.resolved_by = user_id
    return alert


__all__ = ["NewAlert", "on_stock_change", "raise_alerts", "resolve_alert"]
