"""raise_alerts(): the one path that writes alerts, for the monitor and for stock changes alike.

A few set-based statements per call, in the caller's transaction: the daily log rows (the UNIQUE
(client_id, product_id, alert_date) constraint decides what is new), then for the new rows only
the bell notifications, the alert episodes and the outbox rows.
"""
import logging
from dataclasses import dataclass

from sqlalchemy import and_, func, literal, not_, select, update
from sqlalchemy import insert as plain_insert

from ..auth.models import Client, NotificationSettings
from ..auth.tenancy import owned_by
from ..dialect import id_in, insert
from ..extensions import db
from ..retail import rules as stock_rules
from ..retail.models import Product
from ..retail.signals import stock_changed
from ..timeutil import local_date, utcnow
from .models import StockAlert, StockAlertLog
from .signals import announce

log = logging.getLogger(__name__)
CHUNK = 2000  # ids per IN list, well under SQLite's bound-parameter limit


@dataclass(frozen=True)
class NewAlert:
    log_id: int
    client_id: int
    product_id: int
    stock: int
    threshold: int

    @property
    def level(self):
        return "out" if self.stock <= 0 else "low"


def _enabled(settings=NotificationSettings):
    return func.coalesce(settings.low_stock_enabled, True).is_(True)


def _scope(stmt, client_id, product_id):
    if client_id is not None:
        stmt = stmt.where(owned_by(Product, client_id))
    if product_id is not None:
        stmt = stmt.where(Product.id == product_id)
    return stmt


def _low_products(columns, client_id, product_id, timezone=None):
    """SELECT `columns(threshold)` of the active, low products of enabled shops in scope (and in
    one time zone, when given)."""
    threshold = stock_rules.sql_effective_threshold(Product.low_stock_threshold, NotificationSettings.low_stock_threshold)
    stmt = (
        select(*columns(threshold))
        .join(Client, Client.id == Product.client_id)
        .outerjoin(NotificationSettings, NotificationSettings.client_id == Product.client_id)
        .where(stock_rules.sql_is_low(Product.active, Product.stock, threshold), _enabled())
    )
    if timezone is not None:
        stmt = stmt.where(Client.timezone == timezone)
    return _scope(stmt, client_id, product_id)


def _raise(client_id, product_id, now, user_id=None):
    """(new alerts, the notification shown to `user_id` for the first of them, or None)."""
    tz_stmt = (
        select(Client.timezone).distinct()
        .outerjoin(NotificationSettings, NotificationSettings.client_id == Client.id)
        .where(_enabled())
    )
    if client_id is not None:
        tz_stmt = tz_stmt.where(Client.id == client_id)
    new = []
    for timezone in db.session.execute(tz_stmt).scalars().all():
        alert_date = local_date(timezone, now)
        source = _low_products(
            lambda threshold: (Product.client_id, Product.id, literal(alert_date), Product.stock, threshold,
                               literal(now)),
            client_id, product_id, timezone)
        stmt = (
            insert(StockAlertLog)
            .from_select(["client_id", "product_id", "alert_date", "stock_level", "threshold_level",
                          "created_at"], source)
            .on_conflict_do_nothing(index_elements=["client_id", "product_id", "alert_date"])
            .returning(StockAlertLog.id, StockAlertLog.client_id, StockAlertLog.product_id,
                       StockAlertLog.stock_level, StockAlertLog.threshold_level)
        )
        # Core execution on the session's connection, same transaction: the ORM's result rows cost
        # twice as much per RETURNING row. Pending changes were autoflushed by the ORM query above.
        new.extend(NewAlert(*row) for row in db.session.connection().execute(stmt))
    answer = None
    for start in range(0, len(new), CHUNK):
        chunk = new[start:start + CHUNK]
        _open_episodes([a.log_id for a in chunk], now)
        shown = announce(chunk, now, user_id)
        answer = answer or shown
    _resolve_restocked(client_id, product_id, now)
    if new:
        log.info("raised %d new low-stock alert(s)", len(new))
    return new, answer


def raise_alerts(client_id=None, product_id=None, now=None) -> list[NewAlert]:
    """Log today's alerts for every low product in scope (all shops, one shop, or one product)
    and write what follows from the new ones. Returns the new alerts; commits nothing."""
    return _raise(client_id, product_id, now or utcnow())[0]


def _log_ids(ids):
    return id_in(StockAlertLog.id, ids)


def _open_episodes(ids, now):
    """Open an episode per product, or touch the one already open (at most one per product)."""
    source = select(
        StockAlertLog.client_id, StockAlertLog.product_id, stock_rules.sql_level(StockAlertLog.stock_level),
        StockAlertLog.stock_level, StockAlertLog.threshold_level, literal(now), literal(now),
    ).where(_log_ids(ids))
    stmt = insert(StockAlert).from_select(
        ["client_id", "product_id", "level", "stock_at_alert", "threshold", "opened_at", "last_notified_at"],
        source,
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["product_id"],
        index_where=StockAlert.resolved_at.is_(None),
        set_={"last_notified_at": stmt.excluded.last_notified_at, "level": stmt.excluded.level,
              "stock_at_alert": stmt.excluded.stock_at_alert, "threshold": stmt.excluded.threshold},
    )
    db.session.execute(stmt)


def _track_episode(client_id, product_id, now):
    """Keep one product's episode in step with its stock between daily alerts: open one when it
    goes low again the same day (no new notification), and follow its level (low to out)."""
    source = _low_products(
        lambda threshold: (Product.client_id, Product.id, stock_rules.sql_level(Product.stock), Product.stock, threshold,
                           literal(now)),
        client_id, product_id)
    stmt = insert(StockAlert).from_select(
        ["client_id", "product_id", "level", "stock_at_alert", "threshold", "opened_at"], source)
    stmt = stmt.on_conflict_do_update(index_elements=["product_id"], index_where=StockAlert.resolved_at.is_(None),
                                      set_={"level": stmt.excluded.level})
    db.session.execute(stmt)


def _resolve_restocked(client_id, product_id, now):
    """Close the open episodes of products that are no longer low (restocked or archived)."""
    threshold = stock_rules.sql_effective_threshold(Product.low_stock_threshold, NotificationSettings.low_stock_threshold)
    not_low = (
        select(Product.id)
        .outerjoin(NotificationSettings, NotificationSettings.client_id == Product.client_id)
        .where(Product.id == StockAlert.product_id,
               not_(stock_rules.sql_is_low(Product.active, Product.stock, threshold)))
    )
    stmt = update(StockAlert).where(StockAlert.resolved_at.is_(None), not_low.exists())
    if client_id is not None:
        stmt = stmt.where(owned_by(StockAlert, client_id))
    if product_id is not None:
        stmt = stmt.where(StockAlert.product_id == product_id)
    db.session.execute(stmt.values(resolved_at=now), execution_options={"synchronize_session": False})


@stock_changed.connect
def on_stock_change(sender, client_id, product_ids, user_id=None):
    """Retail's stock change, answered in the same transaction: check the changed products;
    returns the bell notification raised for `user_id` (JSON-ready), or None."""
    now = utcnow()
    answer = None
    for product_id in product_ids:
        _, shown = _raise(client_id, product_id, now, user_id)
        _track_episode(client_id, product_id, now)
        answer = answer or shown
    return answer


def resolve_alert(alert, user_id, now=None):
    alert.resolved_at = now or utcnow()
    alert.resolved_by = user_id
    return alert


__all__ = ["NewAlert", "raise_alerts", "on_stock_change", "resolve_alert"]
