"""The reorder rule as pure functions (the reorder point, the suggested quantity, money as text),
with the SQL twin of the reorder point beside them so that the list and the alert agree."""
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import BigInteger, case, cast

CENT = Decimal("0.01")


def ceil_div(a, b):
    """ceil(a / b) for integers a >= 0, b > 0."""
    return -(-a // b)


def reorder_point(threshold, units_sold, window_days, lead_time_days):
    """max(effective threshold, ceil(daily rate x lead time)); the rate is units sold in the window
    / its days, 0 without sales or without a supplier (lead_time_days None)."""
    if not units_sold or units_sold <= 0 or not lead_time_days or window_days <= 0:
        return threshold
    return max(threshold, ceil_div(units_sold * lead_time_days, window_days))


def round_up_to_pack(quantity, pack_size):
    pack = max(pack_size or 1, 1)
    return ceil_div(quantity, pack) * pack


def suggested_quantity(stock, on_order, reorder_point, reorder_quantity=None, max_stock=None, pack_size=1):
    """reorder_quantity when set, else max_stock - stock - on_order when max_stock is set, else
    2 x reorder_point - stock - on_order; at least 1, rounded up to a multiple of pack_size."""
    if reorder_quantity is not None:
        wanted = reorder_quantity
    elif max_stock is not None:
        wanted = max_stock - stock - on_order
    else:
        wanted = 2 * reorder_point - stock - on_order
    return round_up_to_pack(max(wanted, 1), pack_size)


def money(value):
    """A decimal as the API writes it: a string with two places ("3.20"), or None."""
    if value is None:
        return None
    if isinstance(value, float):  # SQLite hands back sums as REAL: its shortest repr, then cents
        value = repr(value)
    return str(Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP))


def sql_reorder_point(threshold, units_col, window_days, lead_col):
    """reorder_point() over columns: units_col and lead_col may be NULL (no sales, no supplier)."""
    need = (cast(units_col, BigInteger) * lead_col + (window_days - 1)) // window_days
    need = case((units_col.is_(None) | lead_col.is_(None), 0), else_=need)
    return case((need > threshold, need), else_=threshold)
