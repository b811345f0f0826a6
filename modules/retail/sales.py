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


def units_sold(since, client_filter, product_ids=None):
    """A subquery (client_id, product_id, units) of the units sold since `since` by the shops
    that `client_filter` (a WHERE clause on stock_movements.client_id) selects."""
    stmt = (
        select(StockMovement.client_id, StockMovement.product_id, func.sum(-StockMovement.delta).label("units"))
        .where(client_filter, IS_SALE, StockMovement.delta < 0, StockMovement.created_at >= since)
        .group_by(StockMovement.client_id, StockMovement.product_id)
    )
    if product_ids is not None:
        stmt = stmt.where(StockMovement.product_id.in_(product_ids))
    return stmt.subquery("sales")


def days_left_of(client_id, timezone, window, products, now=None):
    """{product id: days left or None} for some of one shop's products, in one query."""
    products = list(products)
    if not products:
        return {}
    since = rules.sales_window_start(timezone, window, now or utcnow())
    sales = units_sold(since, StockMovement.client_id == client_id, [p.id for p in products])
    units = dict(db.session.execute(select(sales.c.product_id, sales.c.units)).all())
    return {p.id: rules.days_left(p.stock, units.get(p.id), window) for p in products}

