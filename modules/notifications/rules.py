"""The stock rule and the message texts: pure functions, no I/O. The SQL forms used by the
set-based scan are built here too, from the same definitions, so both paths say the same."""
from sqlalchemy import String, and_, case, cast, func, literal

from .models import DEFAULT_THRESHOLD

UNCATEGORIZED = "Uncategorized"


def effective_threshold(product_threshold, shop_threshold=DEFAULT_THRESHOLD):
    return product_threshold if product_threshold is not None else shop_threshold


def stock_status(stock, threshold, active=True):
    """"out" at zero or below, "low" at or below the threshold (active products only), else "ok"."""
    if stock <= 0:
        return "out"
    if active and stock <= threshold:
        return "low"
    return "ok"


def alert_message(name, stock, category=None):
    category = category or UNCATEGORIZED
    if stock <= 0:
        return f"Out of Stock: {name} ({category})"
    return f"Low Stock Alert: {name} - Only {stock} remaining ({category})"


def products_url(level="low"):
    return "/retail/products?stock=" + ("out" if level == "out" else "low")


# --- the same rule as SQL expressions, for the set-based scan -------------------------------

def sql_effective_threshold(product_threshold_col, shop_threshold_col):
    return func.coalesce(product_threshold_col, shop_threshold_col, DEFAULT_THRESHOLD)


def sql_is_low(active_col, stock_col, threshold_expr):
    return and_(active_col.is_(True), stock_col <= threshold_expr)


def sql_level(stock_col):
    return case((stock_col <= 0, literal("out")), else_=literal("low"))


def sql_alert_message(name_col, stock_col, category_col):
    category = func.coalesce(category_col, UNCATEGORIZED)
    return case(
        (stock_col <= 0, literal("Out of Stock: ") + name_col + literal(" (") + category + literal(")")),
        else_=literal("Low Stock Alert: ") + name_col + literal(" - Only ")
        + cast(stock_col, String) + literal(" remaining (") + category + literal(")"),
    )


def sql_products_url(stock_col):
    return case((stock_col <= 0, literal(products_url(level="out"))), else_=literal(products_url()))
