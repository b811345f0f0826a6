"""Locations: a shop's stores, stock rooms and warehouses. Every shop gets `Main` (its default),
and every product's stock moves there: stock is kept per (product, location) in `product_stock`,
`products.stock` stays the sum. Movements, the daily alert log, alert episodes and purchase orders
carry their location (the log's UNIQUE key gains it); users may be limited to some locations; a
token and a recipient may be bound to one.

The downgrade keeps `products.stock` (the sum, kept in step) and drops the places: the log keeps
one row per product, kind and day, and a product keeps one open episode.

Revision ID: 0013
Revises: 0012
"""
import warnings

import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

DEFAULT_OF_SHOP = "(SELECT id FROM locations WHERE locations.client_id = {table}.client_id AND locations.is_default)"


def _foreign_keys(on):
    """SQLite changes a constraint by copying the table; notifications and deliveries point at
    stock_alert_log, so the copy's DROP must not check them (their ids are copied unchanged)."""
    warnings.filterwarnings("ignore", message="Skipped unsupported reflection of expression-based index",
                            category=sa.exc.SAWarning)
    if op.get_bind().dialect.name == "sqlite":
        op.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")


def upgrade():
    _foreign_keys(False)  # first: SQLite ignores the pragma once a statement has opened a transaction
    op.create_table(
        'locations',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('client_id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=80), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False, server_default='store'),
        sa.Column('is_default', sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column('active', sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name='fk_locations_client_id_clients'),
        sa.PrimaryKeyConstraint('id', name='pk_locations'),
    )
    op.create_index('uq_locations_client_lower_name', 'locations', ['client_id', sa.text('lower(name)')], unique=True)
    op.create_index('uq_locations_default', 'locations', ['client_id'], unique=True,
                    sqlite_where=sa.text('is_default'), postgresql_where=sa.text('is_default'))
    op.create_table(
        'product_stock',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('client_id', sa.Integer(), nullable=False),
        sa.Column('product_id', sa.Integer(), nullable=False),
        sa.Column('location_id', sa.Integer(), nullable=False),
        sa.Column('stock', sa.Integer(), nullable=False, server_default='0'),
        sa.Column('low_stock_threshold', sa.Integer(), nullable=True),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name='fk_product_stock_client_id_clients'),
        sa.ForeignKeyConstraint(['product_id'], ['products.id'], name='fk_product_stock_product_id_products'),
        sa.ForeignKeyConstraint(['location_id'], ['locations.id'], name='fk_product_stock_location_id_locations'),
        sa.PrimaryKeyConstraint('id', name='pk_product_stock'),
        sa.UniqueConstraint('product_id', 'location_id', name='uq_product_stock_place'),
    )
    op.create_index('ix_product_stock_location', 'product_stock', ['client_id', 'location_id', 'stock'])
    op.create_table(
        'transfers',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('client_id', sa.Integer(), nullable=False),
        sa.Column('product_id', sa.Integer(), nullable=False),
        sa.Column('from_location_id', sa.Integer(), nullable=False),
        sa.Column('to_location_id', sa.Integer(), nullable=False),
        sa.Column('quantity', sa.Integer(), nullable=False),
        sa.Column('note', sa.String(length=200), nullable=True),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name='fk_transfers_client_id_clients'),
        sa.ForeignKeyConstraint(['product_id'], ['products.id'], name='fk_transfers_product_id_products'),
        sa.ForeignKeyConstraint(['from_location_id'], ['locations.id'], name='fk_transfers_from_location_id_locations'),
        sa.ForeignKeyConstraint(['to_location_id'], ['locations.id'], name='fk_transfers_to_location_id_locations'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name='fk_transfers_user_id_users'),
        sa.PrimaryKeyConstraint('id', name='pk_transfers'),
    )
    op.create_index('ix_transfers_client', 'transfers', ['client_id', 'id'])
    op.create_table(
        'user_locations',
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('location_id', sa.Integer(), nullable=False),
        sa.Column('client_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name='fk_user_locations_user_id_users'),
        sa.ForeignKeyConstraint(['location_id'], ['locations.id'], name='fk_user_locations_location_id_locations'),
        sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name='fk_user_locations_client_id_clients'),
        sa.PrimaryKeyConstraint('user_id', 'location_id', name='pk_user_locations'),
    )
    for table in ('stock_movements', 'stock_alerts', 'api_tokens', 'recipients', 'purchase_orders', 'notifications'):
        op.add_column(table, sa.Column('location_id', sa.Integer(), nullable=True))
    op.add_column('stock_alert_log', sa.Column('location_id', sa.Integer(), nullable=True))
    op.add_column('stock_alert_log', sa.Column('suggestion', sa.JSON(), nullable=True))

    now = "CURRENT_TIMESTAMP"
    op.execute("INSERT INTO locations (client_id, name, kind, is_default, active, created_at) "
               f"SELECT id, 'Main', 'store', true, true, {now} FROM clients")
    op.execute("INSERT INTO product_stock (client_id, product_id, location_id, stock, updated_at) "
               "SELECT p.client_id, p.id, l.id, p.stock, p.updated_at FROM products p "
               "JOIN locations l ON l.client_id = p.client_id AND l.is_default")
    for table in ('stock_movements', 'stock_alert_log', 'stock_alerts', 'purchase_orders'):
        op.execute(f"UPDATE {table} SET location_id = {DEFAULT_OF_SHOP.format(table=table)}")
    op.execute("UPDATE notifications SET location_id = (SELECT location_id FROM stock_alert_log "
               "WHERE stock_alert_log.id = notifications.alert_log_id) WHERE alert_log_id IS NOT NULL")

    with op.batch_alter_table('stock_alert_log', schema=None) as batch_op:
        batch_op.alter_column('location_id', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_constraint('uq_stock_alert_log_kind_day', type_='unique')
        batch_op.create_unique_constraint('uq_stock_alert_log_place_kind_day',
                                          ['client_id', 'product_id', 'location_id', 'kind', 'alert_date'])
    _foreign_keys(True)
    op.drop_index('uq_stock_alerts_open_product', table_name='stock_alerts')
    op.create_index('uq_stock_alerts_open_place', 'stock_alerts', ['product_id', 'location_id'], unique=True,
                    sqlite_where=sa.text('resolved_at IS NULL'), postgresql_where=sa.text('resolved_at IS NULL'))
    op.create_index('ix_stock_movements_location', 'stock_movements', ['client_id', 'location_id', 'id'])
    # A location's recipient list: an address once per location and channel; the shop's own list
    # (no user, no location) keeps its key.
    op.drop_index('uq_recipients_shop_address', table_name='recipients')
    op.create_index('uq_recipients_shop_address', 'recipients', ['client_id', 'channel', 'address'], unique=True,
                    sqlite_where=sa.text('user_id IS NULL AND location_id IS NULL'),
                    postgresql_where=sa.text('user_id IS NULL AND location_id IS NULL'))
    op.create_index('uq_recipients_location_address', 'recipients', ['location_id', 'channel', 'address'],
                    unique=True, sqlite_where=sa.text('location_id IS NOT NULL'),
                    postgresql_where=sa.text('location_id IS NOT NULL'))


def downgrade():
    _foreign_keys(False)  # first: SQLite ignores the pragma once a statement has opened a transaction
    op.execute("DELETE FROM recipients WHERE location_id IS NOT NULL")  # the locations' lists go with them
    op.drop_index('uq_recipients_location_address', table_name='recipients')
    op.drop_index('uq_recipients_shop_address', table_name='recipients')
    op.create_index('uq_recipients_shop_address', 'recipients', ['client_id', 'channel', 'address'], unique=True,
                    sqlite_where=sa.text('user_id IS NULL'), postgresql_where=sa.text('user_id IS NULL'))
    op.drop_index('ix_stock_movements_location', table_name='stock_movements')
    # One open episode per product again: the most recent one stays open.
    op.execute("UPDATE stock_alerts SET resolved_at = CURRENT_TIMESTAMP WHERE resolved_at IS NULL AND id < "
               "(SELECT max(s.id) FROM stock_alerts s WHERE s.product_id = stock_alerts.product_id "
               "AND s.resolved_at IS NULL)")
    op.drop_index('uq_stock_alerts_open_place', table_name='stock_alerts')
    op.create_index('uq_stock_alerts_open_product', 'stock_alerts', ['product_id'], unique=True,
                    sqlite_where=sa.text('resolved_at IS NULL'), postgresql_where=sa.text('resolved_at IS NULL'))
    # One log row per product, kind and day again: the first one stays, with what hangs off it.
    duplicate = ("SELECT id FROM stock_alert_log WHERE id > (SELECT min(d.id) FROM stock_alert_log d "
                 "WHERE d.client_id = stock_alert_log.client_id AND d.product_id = stock_alert_log.product_id "
                 "AND d.kind = stock_alert_log.kind AND d.alert_date = stock_alert_log.alert_date)")
    for table in ('notifications', 'deliveries'):
        op.execute(f"DELETE FROM {table} WHERE alert_log_id IN ({duplicate})")
    op.execute(f"DELETE FROM stock_alert_log WHERE id IN ({duplicate})")
    with op.batch_alter_table('stock_alert_log', schema=None) as batch_op:
        batch_op.drop_constraint('uq_stock_alert_log_place_kind_day', type_='unique')
        batch_op.create_unique_constraint('uq_stock_alert_log_kind_day', ['client_id', 'product_id', 'kind', 'alert_date'])
        batch_op.drop_column('location_id')
        batch_op.drop_column('suggestion')
    for table in ('stock_movements', 'stock_alerts', 'api_tokens', 'recipients', 'purchase_orders', 'notifications'):
        op.drop_column(table, 'location_id')  # plain DROP COLUMN: no table copy (and no lost index) on SQLite
    # products.stock is the sum over the places, kept in step: nothing to move back.
    op.execute("UPDATE products SET stock = (SELECT coalesce(sum(ps.stock), 0) FROM product_stock ps "
               "WHERE ps.product_id = products.id) WHERE id IN (SELECT product_id FROM product_stock)")
    op.drop_table('user_locations')
    op.drop_index('ix_transfers_client', table_name='transfers')
    op.drop_table('transfers')
    op.drop_index('ix_product_stock_location', table_name='product_stock')
    op.drop_table('product_stock')
    op.drop_index('uq_locations_default', table_name='locations')
    op.drop_index('uq_locations_client_lower_name', table_name='locations')
    op.drop_table('locations')
    _foreign_keys(True)
