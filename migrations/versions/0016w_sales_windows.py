"""The forecast's window kept on the places and products (issue 18): `sold_before` (units sold on
the window's days before today, rolled once a shop-local day), `sold_today` and `sold_on` (the
units of the latest day with sales, written with each sale), and `sales_windows`, the day each
shop's windows were rolled for. Readers sum a window from three columns instead of ~27 rollup
rows per place.

The upgrade fills `sold_today`/`sold_on` from the rollup's latest day per place and product;
`sold_before` is left at 0 with no `sales_windows` row, so readers use the rollup until the
shop's first roll (the monitor's next cycle, or its people's next request).

Revision ID: 0016w
Revises: 0015l
"""
import sqlalchemy as sa
from alembic import op

revision = '0016w'
down_revision = '0015l'
branch_labels = None
depends_on = None

COLUMNS = ("sold_before", "sold_today", "sold_on")
COVER = "(stock * 1.0 / NULLIF(sold_before + sold_today, 0))"  # as retail.windows.cover() spells it


def _columns():
    return [sa.Column("sold_before", sa.Integer(), nullable=False, server_default="0"),
            sa.Column("sold_today", sa.Integer(), nullable=False, server_default="0"),
            sa.Column("sold_on", sa.Date(), nullable=True)]


def upgrade():
    for table in ("product_stock", "products"):
        for column in _columns():
            op.add_column(table, column)  # a plain ADD COLUMN on both databases: no table copy
    # The forecast's sieve (retail.windows.cover): the places whose stock is short for what they sell.
    op.create_index("ix_product_stock_cover", "product_stock", ["client_id", sa.text(COVER)])
    op.create_table(
        "sales_windows",
        sa.Column("client_id", sa.Integer(), sa.ForeignKey("clients.id"), primary_key=True, autoincrement=False),
        sa.Column("window_day", sa.Date(), nullable=False),
        sa.Column("window_days", sa.Integer(), nullable=False),
    )
    op.execute("""
        UPDATE product_stock SET sold_on = (
            SELECT MAX(d.sale_date) FROM sales_daily d
            WHERE d.product_id = product_stock.product_id AND d.location_id = product_stock.location_id)""")
    op.execute("""
        UPDATE product_stock SET sold_today = COALESCE((
            SELECT d.units FROM sales_daily d
            WHERE d.product_id = product_stock.product_id AND d.location_id = product_stock.location_id
              AND d.sale_date = product_stock.sold_on), 0)
        WHERE sold_on IS NOT NULL""")
    op.execute("""
        UPDATE products SET sold_on = (
            SELECT MAX(d.sale_date) FROM sales_daily d WHERE d.product_id = products.id)""")
    op.execute("""
        UPDATE products SET sold_today = COALESCE((
            SELECT SUM(d.units) FROM sales_daily d
            WHERE d.product_id = products.id AND d.sale_date = products.sold_on), 0)
        WHERE sold_on IS NOT NULL""")


def downgrade():
    op.drop_table("sales_windows")
    op.drop_index("ix_product_stock_cover", table_name="product_stock")
    for table in ("product_stock", "products"):
        for name in COLUMNS:  # DROP COLUMN (SQLite 3.35 and later): no index left on them
            op.execute(f"ALTER TABLE {table} DROP COLUMN {name}")
