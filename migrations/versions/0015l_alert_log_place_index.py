"""The daily log looked up by place (issue 19): a rule's "not already logged today" test
(`low` after `out`, `forecast` after `reorder`) names the product, location, kind and day but not
the shop, so the UNIQUE key (client_id first) cannot serve it. Without this index SQLite scans the
whole day's log once per place: 19 s for the repeat cycle of 100 shops x 900 stock rows.

Revision ID: 0015l
Revises: 0015
"""
from alembic import op

revision = '0015l'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_stock_alert_log_place_day', 'stock_alert_log',
                    ['product_id', 'location_id', 'kind', 'alert_date'])


def downgrade():
    op.drop_index('ix_stock_alert_log_place_day', table_name='stock_alert_log')
