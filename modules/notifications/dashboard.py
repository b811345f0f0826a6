"""The dashboard's numbers: what needs attention in one shop (out, low, running out, snoozed),
the products behind each count, the user's last alerts and alerts per shop-local day. A few
set-based queries whatever the number of products: the stock rule's SQL twins, no Python loops."""
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import and_, func, not_, select

from ..alerts.models import StockAlertLog
from ..alerts.scan import sql_place_threshold, sql_product_threshold, with_thresholds
from ..auth.models import Client, NotificationSettings
from ..auth.settings import shop_threshold
from ..auth.tenancy import for_shop, owned_by
from ..extensions import db
from ..retail import rules as stock_rules
from ..retail import service as retail
from ..retail.models import Category, Location, Product, ProductStock
from ..retail.sales import DEFAULT_WINDOW_DAYS, window_units
from ..retail.listing import View
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


def _product_columns(level, threshold):
    return (Product.id, Product.name, level.label("stock"), threshold.label("threshold"),
            Category.name.label("category"))


def attention(client_id, now, cap=5, location_id=None, ids=None):
    """Counts of out, low (not out), running out and snoozed active products, and the first
    `cap` products of the first three, most urgent first: over the whole shop (counts and lists
    read the products' indexes, retail's listing), or with stock counted at `location_id` or over
    the locations `ids` a person is limited to."""
    timezone, forecast_days, window = _settings(client_id)
    forecast_days, window = forecast_days or 0, window or DEFAULT_WINDOW_DAYS
    snoozed = not_(stock_rules.sql_not_snoozed(Product.snoozed_until, Product.muted, now))
    if location_id is None and ids is None:
        shop_default = shop_threshold(client_id)
        bound = retail.threshold_bound(client_id, shop_default)
        # With the forecast on, "running out" is counted with the others (from the cover index alone).
        names = ("out", "low", "snoozed", "soon") if forecast_days > 0 else ("out", "low", "snoozed")
        counts = retail.count_matching(client_id, names, now, shop_default, bound)
        level, threshold = Product.stock, sql_product_threshold()
        is_out = level <= 0
        is_low = and_(level > 0, level <= bound, level <= threshold)
        active = with_thresholds(select(*_product_columns(level, threshold))).where(
            owned_by(Product, client_id), Product.active.is_(True))
        out, low, snoozed_count = counts["out"], counts["low"] - counts["out"], counts["snoozed"]
        soon_count = counts.get("soon")
    else:
        view = View.of(client_id, location_id, ids)
        level, threshold = view.stock, view.threshold
        active = view.products(client_id).with_only_columns(*_product_columns(level, threshold))
        location_id, ids = view.location_id, view.ids
        is_out = level <= 0
        is_low = and_(level > 0, level <= threshold)
        out, low, snoozed_count = db.session.execute(active.with_only_columns(
            func.count().filter(is_out), func.count().filter(is_low), func.count().filter(snoozed))).one()
        soon_count = None
    any_product = db.session.execute(for_shop(Product, client_id, Product.id).limit(1)).first() is not None
    result = Attention({"out": out, "low": low, "running_out": 0, "snoozed": snoozed_count},
                       forecast_days=forecast_days, products=int(any_product))
    result.out = db.session.execute(active.where(is_out).order_by(Product.name, Product.id).limit(cap)).all()
    result.low = db.session.execute(
        active.where(is_low).order_by(level, Product.name, Product.id).limit(cap)).all()
    if forecast_days > 0:
        sold, active = window_units(active, client_id, timezone, window, now, location_id, ids,
                                    horizon=forecast_days)
        days = stock_rules.sql_days_left(level, sold, window)
        soon = active.add_columns(days.label("days_left")).where(sold > 0, level > threshold, days <= forecast_days)
        if soon_count is None:
            # The count rides on the list's rows (a window function): the window's sales read once.
            soon = soon.add_columns(func.count().over().label("matching"))
        rows = db.session.execute(soon.order_by(days, Product.name, Product.id).limit(cap)).all()
        if soon_count is None:
            soon_count = rows[0].matching if rows else 0
        result.counts["running_out"] = soon_count
        result.running_out = rows
    return result


def place_counts(client_id, ids=None):
    """[(location id, name, out, low (not out))] of the shop's active locations (those in `ids`),
    the default first: the whole view's line per place, in one grouped query."""
    threshold = sql_place_threshold()
    stmt = (select(Location.id, Location.name, func.count().filter(ProductStock.stock <= 0),
                   func.count().filter(and_(ProductStock.stock > 0, ProductStock.stock <= threshold)))
            .select_from(Location)
            .outerjoin(ProductStock, ProductStock.location_id == Location.id)
            .outerjoin(Product, and_(Product.id == ProductStock.product_id, Product.active.is_(True)))
            .outerjoin(Category, Category.id == Product.category_id)
            .outerjoin(NotificationSettings, NotificationSettings.client_id == Location.client_id)
            .where(owned_by(Location, client_id), Location.active.is_(True))
            .group_by(Location.id, Location.name, Location.is_default)
            .order_by(Location.is_default.desc(), func.lower(Location.name), Location.id))
    if ids is not None:
        stmt = stmt.where(Location.id.in_(ids))
    return db.session.execute(stmt).all()


def last_alerts(user, limit=8, location_ids=None):
    """The user's own latest bell notifications (what they were told, newest first), of the
    locations `location_ids` when given."""
    stmt = for_shop(Notification, user.client_id).where(Notification.user_id == user.id)
    if location_ids is not None:
        stmt = stmt.where(Notification.location_id.in_(location_ids))
    return db.session.execute(stmt.order_by(Notification.id.desc()).limit(limit)).scalars().all()


def alerts_per_day(client_id, timezone, now, days=CHART_DAYS, location_ids=None):
    """[(shop-local date, alerts logged that day)] for the last `days` days, oldest first, at the
    locations `location_ids` when given: the daily log's alert_date is already the shop's local date."""
    today = local_date(timezone, now)
    first = today - timedelta(days=days - 1)
    stmt = for_shop(StockAlertLog, client_id, StockAlertLog.alert_date, func.count())
    if location_ids is not None:
        stmt = stmt.where(StockAlertLog.location_id.in_(location_ids))
    counts = dict(db.session.execute(
        stmt.where(StockAlertLog.alert_date >= first).group_by(StockAlertLog.alert_date)).all())
    return [(first + timedelta(days=i), counts.get(first + timedelta(days=i), 0)) for i in range(days)]
