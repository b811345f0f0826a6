"""A product's own sales, the forecast's input: units sold (movements with reason "sale") since
an instant, per product, in one statement for any number of products."""
from sqlalchemy import func, literal_column, select

from ..extensions import db
from ..timeutil import utcnow
from . import rules
from .models import StockMovement

DEFAULT_WINDOW_DAYS = 28
# Spelled as a literal so that SQLite and PostgreSQL both use the partial index on sales.
IS_SALE = StockMovement.reason == literal_column("'sale'")


def units_sold(since, client_filter, product_ids=None, by_location=False):
    """A subquery (client_id, product_id, units) of the units sold since `since` by the shops
    that `client_filter` (a WHERE clause on stock_movements.client_id) selects; with
    `by_location`, (client_id, product_id, location_id, units), per place."""
    keys = [StockMovement.client_id, StockMovement.product_id]
    if by_location:
        keys.append(StockMovement.location_id)
    stmt = (
        select(*keys, func.sum(-StockMovement.delta).label("units"))
        .where(client_filter, IS_SALE, StockMovement.delta < 0, StockMovement.created_at >= since)
        .group_by(*keys)
    )
    if product_ids is not None:
        stmt = stmt.where(StockMovement.product_id.in_(product_ids))
    return stmt.subquery("sales")


def units_by_place(client_id, timezone, window, product_ids, now=None):
    """{(product id, location id): units sold in the window} for some of one shop's products."""
    since = rules.sales_window_start(timezone, window, now or utcnow())
    sold = units_sold(since, StockMovement.client_id == client_id, list(product_ids), by_location=True)
    return {(pid, lid): units for pid, lid, units in db.session.execute(
        select(sold.c.product_id, sold.c.location_id, sold.c.units))}
