"""The alert kinds registry. A kind is a set-based SQL rule (which products alert today), its
message and its level, each in Python and in SQL. Adding one is a `Kind(...)` line in `KINDS`,
its rule and its message (see the README, "Adding an alert kind")."""
from dataclasses import dataclass
from typing import Callable

from sqlalchemy import String, and_, case, cast, exists, func, literal

from ..auth.models import NotificationSettings
from ..retail import rules as stock_rules
from ..retail.models import Product, StockMovement
from ..retail.sales import units_sold
from . import rules
from .models import StockAlert


@dataclass(frozen=True)
class Kind:
    name: str
    rule: Callable  # (Scan) -> a list of SELECTs of Scan.LOG_COLUMNS (empty when off)
    message: Callable  # (name, stock, category, days_left) -> str
    sql_message: Callable  # the same over columns
    level: Callable  # (stock) -> str
    sql_level: Callable  # the same over a column
    sql_action_url: Callable  # (product_id, stock) -> where the notification leads


# --- the rules: each extends Scan.candidates(), the products that may alert in this scan ------

def low_rule(scan):
    """The stock rule: active, at or below the effective threshold."""
    threshold = scan.threshold
    return [scan.candidates(Product.stock, threshold, literal(None)).where(Product.stock <= threshold)]


def forecast_rule(scan):
    """Not low, sold in the shop's window, and days_left <= forecast_days: one statement per
    window length in use in this time zone (almost always one: the default 28 days)."""
    selects = []
    for window in scan.forecast_windows():
        since = stock_rules.sales_window_start(scan.timezone, window, scan.now)
        shops = scan.shops().where(NotificationSettings.forecast_days > 0,
                                   NotificationSettings.forecast_window_days == window)
        sales = units_sold(since, StockMovement.client_id.in_(shops), scan.product_ids)
        days = stock_rules.sql_days_left(Product.stock, sales.c.units, window)
        threshold = scan.threshold
        selects.append(
            scan.candidates(Product.stock, threshold, days)
            .join(sales, and_(sales.c.product_id == Product.id, sales.c.client_id == Product.client_id))
            .where(NotificationSettings.forecast_days > 0, NotificationSettings.forecast_window_days == window,
                   Product.stock > threshold, days <= NotificationSettings.forecast_days))
    return selects


def restocked_rule(scan):
    """An open low episode whose product rose above its effective threshold (and above the
    stock it alerted at): the scan closes that episode right after, so this rings once."""
    if not scan.any_shop(NotificationSettings.notify_restocked.is_(True)):
        return []  # one indexed look-up instead of a scan when no shop in scope wants it
    threshold = scan.threshold
    rose = exists().where(StockAlert.product_id == Product.id, StockAlert.resolved_at.is_(None),
                          Product.stock > StockAlert.stock_at_alert)
    return [scan.candidates(Product.stock, threshold, literal(None))
            .where(NotificationSettings.notify_restocked.is_(True), Product.stock > threshold, rose)]


# --- the messages ------------------------------------------------------------------------------

def forecast_message(name, stock, category, days_left):
    days = "day" if days_left == 1 else "days"
    return f"Running Low: {name} - about {days_left} {days} left ({category or rules.UNCATEGORIZED})"


def sql_forecast_message(name, stock, category, days_left):
    days = case((days_left == 1, literal(" day left (")), else_=literal(" days left ("))
    return (literal("Running Low: ") + name + literal(" - about ") + cast(days_left, String) + days
            + func.coalesce(category, rules.UNCATEGORIZED) + literal(")"))


def restocked_message(name, stock, category, days_left=None):
    return f"Back in Stock: {name} - {stock} in stock ({category or rules.UNCATEGORIZED})"


def sql_restocked_message(name, stock, category, days_left):
    return (literal("Back in Stock: ") + name + literal(" - ") + cast(stock, String) + literal(" in stock (")
            + func.coalesce(category, rules.UNCATEGORIZED) + literal(")"))


def sql_product_url(product_id, stock=None):
    return literal("/retail/products/") + cast(product_id, String) + literal("/edit")


KINDS = {kind.name: kind for kind in (
    Kind("low", low_rule,
         lambda name, stock, category, days_left=None: rules.alert_message(name, stock, category),
         lambda name, stock, category, days_left: rules.sql_alert_message(name, stock, category),
         lambda stock: "out" if stock <= 0 else "low", stock_rules.sql_level,
         lambda product_id, stock: rules.sql_products_url(stock)),
    Kind("forecast", forecast_rule, forecast_message, sql_forecast_message,
         lambda stock: "warning", lambda stock: literal("warning"), sql_product_url),
    Kind("restocked", restocked_rule, restocked_message, sql_restocked_message,
         lambda stock: "ok", lambda stock: literal("ok"), sql_product_url),
)}


def message(kind, name, stock, category, days_left=None):
    return KINDS[kind].message(name, stock, category, days_left)


def level(kind, stock):
    return KINDS[kind].level(stock)


def _by_kind(kind_col, build):
    return case(*((kind_col == name, build(k)) for name, k in KINDS.items()))


def sql_message(kind_col, name, stock, category, days_left):
    return _by_kind(kind_col, lambda k: k.sql_message(name, stock, category, days_left))


def sql_level(kind_col, stock):
    return _by_kind(kind_col, lambda k: k.sql_level(stock))


def sql_action_url(kind_col, product_id, stock):
    return _by_kind(kind_col, lambda k: k.sql_action_url(product_id, stock))
