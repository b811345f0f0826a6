"""Pages with the forecast on (issue 18): the products' own cover index, the forecast's sieve over
the whole shop (retail.windows.short_cover on `products`), so that the "running out" tab, its
count on every products page and the dashboard's list read only the products whose stock is short
for what they sell, from the index alone, instead of every product of the shop.

Revision ID: 0017p
Revises: 0017o
"""
import sqlalchemy as sa
from alembic import op

revision = '0017p'
down_revision = '0017o'
branch_labels = None
depends_on = None

COVER = "(stock * 1.0 / NULLIF(sold_before + sold_today, 0))"  # as retail.windows.cover() spells it
# After the sieve's range, what the exact rule reads (the threshold's and the window's columns) and
# what the dashboard's list sorts by and shows, so that neither database visits the table for the
# candidates (about a tenth of the bench's shop).
READ = ["stock", "low_stock_threshold", "category_id", "sold_before", "sold_today", "sold_on", "name", "id"]


def upgrade():
    op.create_index("ix_products_client_cover", "products", ["client_id", "active", sa.text(COVER), *READ])


def downgrade():
    op.drop_index("ix_products_client_cover", table_name="products")
