"""The dashboard's numbers: what needs attention in one shop (out, low, running out, snoozed),
the products behind each count, the user's last alerts and alerts per shop-local day. A few
set-based queries whatever the number of products: the stock rule's SQL twins, no Python loops."""
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import and_, func, select

from ..alerts.models import StockAlertLog
from ..alerts.scan import sql_product_threshold, with_thresholds
from ..auth.models import Client, NotificationSettings
from ..auth.tenancy import for_shop, owned_by
from ..extensions import db
from ..retail import rules as stock_rules
from ..retail import service as retail
from ..retail.models import Category, Product, StockMovement
from ..retail.sales import DEFAULT_WINDOW_DAYS, units_sold
from ..timeutil import local_date
from .models import Notification

CHART_DAYS = 30


@dataclass
class Attention:
    counts: dict
    out: list = field(default_factory=list)
    low: list = field(default_factory=list)
    running_out: list = field(default_factory=list)
    forecast_days: int = 0
    products: int = 0  # 1 when the shop has any product, archived too: zero means a first run


def _settings(client_id):
    return db.session.execute(
        select(Client.timezone, NotificationSettings.forecast_days, NotificationSettings.forecast_window_days)
        .outerjoin(NotificationSettings, NotificationSettings.client_id == Client.id)
        .where(Client.id == client_id)).one()


def _product_columns(threshold):
    return (Product.id, Product.name, Product.stock, threshold.label("threshold"),
            Category.name.label("category"))


def attention(client_id, now, cap=5):
    """Counts of out, low (not out), running out and snoozed active products, and the first
    `cap` products of the first three, most urgent first. Counts and lists read the products'
    indexes (retail's listing); only the running-out count reads the window's sales, once."""
    timezone, forecast_days, window = _settings(client_id)
    forecast_days, window = forecast_days or 0, window or DEFAULT_WINDOW_DAYS
    counts = {name: retail.count_matching(client_id, name, now) for name in ("out", "low", "snoozed")}
    threshold = sql_product_threshold()
    is_out = Product.stock <= 0
    is_low = and_(Product.stock > 0, Product.stock <= retail.threshold_bound(client_id), Product.stock <= threshold)
    active = with_thresholds(select(*_product_columns(threshold))).where(
        owned_by(Product, client_id), Product.active.is_(True))
    any_product = db.session.execute(for_shop(Product, client_id, Product.id).limit(1)).first() is not None
    result = Attention({"out": counts["out"], "low": counts["low"] - counts["out"], "running_out": 0,
                        "snoozed": counts["snoozed"]}, forecast_days=forecast_days, products=int(any_product))
    result.out = db.session.execute(active.where(is_out).order_by(Product.name, Product.id).limit(cap)).all()
    result.low = db.session.execute(
        active.where(is_low).order_by(Product.stock, Product.name, Product.id).limit(cap)).all()
    if forecast_days > 0:
        since = stock_rules.sales_window_start(timezone, window, now)
        sales = units_sold(since, StockMovement.client_id == client_id)
        days = stock_rules.sql_days_left(Product.stock, sales.c.units, window)
        # The count rides on the list's rows (a window function): the window's sales read once.
        soon = (active.add_columns(days.label("days_left"), func.count().over().label("matching"))
                .join(sales, and_(sales.c.product_id == Product.id, sales.c.client_id == Product.client_id))
                .where(Product.stock > threshold, days <= forecast_days))
        rows = db.session.execute(soon.order_by(days, Product.name, Product.id).limit(cap)).all()
        result.counts["running_out"] = rows[0].matching if rows else 0
        result.running_out = rows
    return result


def last_alerts(user, limit=8):
    """The user's own latest bell notifications (what they were told, newest first)."""
    return db.session.execute(
        for_shop(Notification, user.client_id).where(Notification.user_id == user.id)
        .order_by(Notification.id.desc()).limit(limit)).scalars().all()


def alerts_per_day(client_id, timezone, now, days=CHART_DAYS):
    """[(shop-local date, alerts logged that day)] for the last `days` days, oldest first: the
    daily log's alert_date is already the shop's local date."""
    today = local_date(timezone, now)
    first = today - timedelta(days=days - 1)
    counts = dict(db.session.execute(
        for_shop(StockAlertLog, client_id, StockAlertLog.alert_date, func.count())
        .where(StockAlertLog.alert_date >= first).group_by(StockAlertLog.alert_date)).all())
    return [(first + timedelta(days=i), counts.get(first + timedelta(days=i), 0)) for i in range(days)]
