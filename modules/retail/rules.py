"""The stock rule: a product's effective threshold and its status ("ok", "low", "out"). Pure
functions, with their SQL twins beside them so that the set-based scan and a single product
always agree."""
from sqlalchemy import and_, case, func, literal

from ..auth.models import DEFAULT_THRESHOLD


def effective_threshold(product_threshold, shop_threshold=DEFAULT_THRESHOLD):
    return product_threshold if product_threshold is not None else shop_threshold


def stock_status(stock, threshold, active=True):
    """"out" at zero or below, "low" at or below the threshold (active products only), else "ok"."""
    if stock <= 0:
        return "out"
    if active and stock <= threshold:
        return "low"
    return "ok"


def sql_effective_threshold(product_threshold_col, shop_threshold_col):
    return func.coalesce(product_threshold_col, shop_threshold_col, DEFAULT_THRESHOLD)


def sql_is_low(active_col, stock_col, threshold_expr):
    return and_(active_col.is_(True), stock_col <= threshold_expr)


def sql_level(stock_col):
    return case((stock_col <= 0, literal("out")), else_=literal("low"))
