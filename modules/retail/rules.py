"""The stock rule: a product's effective threshold (its own, else its category's, else the
shop's), its status ("ok", "low", "out"), whether it is snoozed, and its days left at its own
rate of sales. Pure functions, with their SQL twins beside them so that the set-based scan and
a single product always agree."""
from sqlalchemy import BigInteger, and_, case, cast, func, literal, or_

from ..auth.models import DEFAULT_THRESHOLD
from ..timeutil import local_midnight


def effective_threshold(product_threshold, category_threshold=None, shop_threshold=DEFAULT_THRESHOLD,
                        location_threshold=None):
    for value in (location_threshold, product_threshold, category_threshold, shop_threshold):
        if value is not None:
            return value
    return DEFAULT_THRESHOLD


def threshold_source(product_threshold, category_threshold=None, location_threshold=None):
    """Where the effective threshold comes from: "location", "product", "category" or "shop"."""
    if location_threshold is not None:
        return "location"
    if product_threshold is not None:
        return "product"
    return "category" if category_threshold is not None else "shop"


def stock_status(stock, threshold, active=True):
    """"out" at zero or below, "low" at or below the threshold (active products only), else "ok"."""
    if stock <= 0:
        return "out"
    if active and stock <= threshold:
        return "low"
    return "ok"


def is_snoozed(snoozed_until, muted, now):
    return bool(muted) or (snoozed_until is not None and snoozed_until > now)


def days_left(stock, units_sold, window_days):
    """floor(stock / daily rate), the rate being the units sold in the window / its days; None
    without sales in the window."""
    if not units_sold or units_sold <= 0 or window_days <= 0:
        return None
    return max(stock, 0) * window_days // units_sold


def sales_window_start(tz_name, window_days, now):
    """The naive-UTC instant the forecast window starts: shop-local midnight `window_days - 1`
    days before today, so the window is today and the days before it."""
    return local_midnight(tz_name, now, -(window_days - 1))


# --- the same rule as SQL expressions ---------------------------------------------------------

def sql_effective_threshold(*threshold_cols):
    """The first threshold set among the columns (most specific first: the product's at a
    location, the product's, its category's, the shop's), else the default."""
    return func.coalesce(*threshold_cols, DEFAULT_THRESHOLD)


def sql_is_low(active_col, stock_col, threshold_expr):
    return and_(active_col.is_(True), stock_col <= threshold_expr)


def sql_level(stock_col):
    return case((stock_col <= 0, literal("out")), else_=literal("low"))


def sql_not_snoozed(snoozed_until_col, muted_col, now):
    return and_(muted_col.is_(False), or_(snoozed_until_col.is_(None), snoozed_until_col <= now))


def sql_days_left(stock_col, units_col, window_days):
    """floor(stock * window / units) in 64-bit integers (stock * 365 overflows 32 bits)."""
    return cast(stock_col, BigInteger) * window_days // cast(units_col, BigInteger)
