"""Alert kinds: `kind` on the daily log (UNIQUE client, product, kind, date; every existing row is
kind "low") and on notifications; category thresholds; forecast and back-in-stock settings;
snoozed and muted products; an index for the sales a forecast reads.

Revision ID: 0003
Revises: 0002
"""
import warnings

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def _without_sqlite_foreign_keys():
    """SQLite changes a constraint by copying the table; notifications and deliveries point at
    stock_alert_log, so its DROP must not check them (their ids are copied unchanged)."""
    # Reflecting the tables for the copy meets categories' lower(name) index, which it cannot
    # read and does not need (categories is not copied): not worth a warning on every first run.
    warnings.filterwarnings("ignore", message="Skipped unsupported reflection of expression-based index",
                            category=sa.exc.SAWarning)
    if op.get_bind().dialect.name == "sqlite":
        op.execute("PRAGMA foreign_keys=OFF")


def _with_sqlite_foreign_keys():
    if op.get_bind().dialect.name == "sqlite":
        op.execute("PRAGMA foreign_keys=ON")


def upgrade():
    _without_sqlite_foreign_keys()
    with op.batch_alter_table('stock_alert_log', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=16), nullable=False, server_default='low'))
        batch_op.add_column(sa.Column('days_left', sa.Integer(), nullable=True))
        batch_op.drop_constraint('uq_stock_alert_log_day', type_='unique')
        batch_op.create_unique_constraint('uq_stock_alert_log_kind_day', ['client_id', 'product_id', 'kind', 'alert_date'])
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=16), nullable=False, server_default='low'))
        batch_op.add_column(sa.Column('product_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_notifications_product_id_products'), 'products', ['product_id'], ['id'])
    op.execute("UPDATE notifications SET product_id = (SELECT product_id FROM stock_alert_log "
               "WHERE stock_alert_log.id = notifications.alert_log_id) WHERE alert_log_id IS NOT NULL")
    _with_sqlite_foreign_keys()
    # Plain ADD COLUMN (no table copy on SQLite, which would drop categories' expression index).
    op.add_column('categories', sa.Column('low_stock_threshold', sa.Integer(), nullable=True))
    op.add_column('products', sa.Column('snoozed_until', sa.DateTime(), nullable=True))
    op.add_column('products', sa.Column('muted', sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column('notification_settings', sa.Column('forecast_days', sa.Integer(), nullable=False, server_default='0'))
    op.add_column('notification_settings',
                  sa.Column('forecast_window_days', sa.Integer(), nullable=False, server_default='28'))
    op.add_column('notification_settings',
                  sa.Column('notify_restocked', sa.Boolean(), nullable=False, server_default=sa.false()))
    # The forecast sums each shop's recent sales: only sale movements, by shop and time.
    op.create_index('ix_stock_movements_sales', 'stock_movements', ['client_id', 'created_at', 'product_id', 'delta'],
                    sqlite_where=sa.text("reason = 'sale'"), postgresql_where=sa.text("reason = 'sale'"))


def downgrade():
    op.drop_index('ix_stock_movements_sales', table_name='stock_movements')
    with op.batch_alter_table('notification_settings', schema=None) as batch_op:
        batch_op.drop_column('notify_restocked')
        batch_op.drop_column('forecast_window_days')
        batch_op.drop_column('forecast_days')
    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.drop_column('muted')
        batch_op.drop_column('snoozed_until')
    op.drop_column('categories', 'low_stock_threshold')  # plain DROP COLUMN: no table copy on SQLite
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_notifications_product_id_products'), type_='foreignkey')
        batch_op.drop_column('product_id')
    # The older schema has room for one alert per product and day: the other kinds go.
    for table in ('notifications', 'deliveries'):
        op.execute(f"DELETE FROM {table} WHERE alert_log_id IN (SELECT id FROM stock_alert_log WHERE kind <> 'low')")
    op.execute("DELETE FROM stock_alert_log WHERE kind <> 'low'")
    _without_sqlite_foreign_keys()
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_column('kind')
    with op.batch_alter_table('stock_alert_log', schema=None) as batch_op:
        batch_op.drop_constraint('uq_stock_alert_log_kind_day', type_='unique')
        batch_op.create_unique_constraint('uq_stock_alert_log_day', ['client_id', 'product_id', 'alert_date'])
        batch_op.drop_column('days_left')
        batch_op.drop_column('kind')
    _with_sqlite_foreign_keys()
