"""Indexes for pages that do not grow with the shop (issue 18): the products list sorted by name or
stock and counted per tab from the index alone, the snoozed tab, the highest product threshold (the
low filter's bound), the stock's value per category, a product's own sales (days left for one
page of products), and the dashboard's alerts per day.

Revision ID: 0014p
Revises: 0013
"""
import sqlalchemy as sa
from alembic import op

revision = '0014p'
down_revision = '0013'
branch_labels = None
depends_on = None

SALE = sa.text("reason = 'sale'")


def upgrade():
    op.create_index('ix_products_client_active_name', 'products', ['client_id', 'active', 'name', 'id'])
    op.create_index('ix_products_client_active_stock', 'products', ['client_id', 'active', 'stock', 'name', 'id'])
    op.create_index('ix_products_client_snoozed', 'products', ['client_id', 'active', 'muted', 'snoozed_until'])
    op.create_index('ix_products_client_threshold', 'products', ['client_id', 'low_stock_threshold'])
    op.create_index('ix_products_client_value', 'products',
                    ['client_id', 'active', 'category_id', 'stock', 'cost_price', 'sell_price'])
    op.create_index('ix_stock_alert_log_client_date', 'stock_alert_log', ['client_id', 'alert_date'])
    op.create_index('ix_stock_movements_product_sales', 'stock_movements',
                    ['client_id', 'product_id', 'created_at', 'delta'], sqlite_where=SALE, postgresql_where=SALE)


def downgrade():
    op.drop_index('ix_stock_movements_product_sales', table_name='stock_movements')
    op.drop_index('ix_stock_alert_log_client_date', table_name='stock_alert_log')
    op.drop_index('ix_products_client_value', table_name='products')
    op.drop_index('ix_products_client_threshold', table_name='products')
    op.drop_index('ix_products_client_snoozed', table_name='products')
    op.drop_index('ix_products_client_active_stock', table_name='products')
    op.drop_index('ix_products_client_active_name', table_name='products')
