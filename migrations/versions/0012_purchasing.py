"""Purchasing: suppliers, purchase orders and their lines; products gain their supplier, cost and
sell prices, reorder quantity, max stock and pack size; a movement may carry a note (the order's
number on a delivery); the shop's settings gain its currency.

Products keep `supplier_id` without a database foreign key: SQLite cannot drop a column that one
names (the downgrade), and deleting a supplier clears its products in the same transaction.

Revision ID: 0012
Revises: 0011
"""
import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

MONEY = sa.Numeric(12, 2)


def upgrade():
    op.create_table(
        'suppliers',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('client_id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('email', sa.String(length=254), nullable=True),
        sa.Column('phone', sa.String(length=32), nullable=True),
        sa.Column('lead_time_days', sa.Integer(), nullable=False, server_default='0'),
        sa.Column('notes', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.CheckConstraint('lead_time_days >= 0 AND lead_time_days <= 365', name=op.f('ck_suppliers_lead_time')),
        sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_suppliers_client_id_clients')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_suppliers')),
    )
    op.create_index('ix_suppliers_client', 'suppliers', ['client_id', 'name'])
    op.create_table(
        'purchase_orders',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('client_id', sa.Integer(), nullable=False),
        sa.Column('number', sa.Integer(), nullable=False),
        sa.Column('supplier_id', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False, server_default='draft'),
        sa.Column('created_by', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('sent_at', sa.DateTime(), nullable=True),
        sa.Column('received_at', sa.DateTime(), nullable=True),
        sa.Column('cancelled_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_purchase_orders_client_id_clients')),
        sa.ForeignKeyConstraint(['supplier_id'], ['suppliers.id'],
                                name=op.f('fk_purchase_orders_supplier_id_suppliers')),
        sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_purchase_orders_created_by_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_purchase_orders')),
        sa.UniqueConstraint('client_id', 'number', name='uq_purchase_orders_client_number'),
    )
    op.create_index('ix_purchase_orders_status', 'purchase_orders', ['client_id', 'status'])
    op.create_table(
        'purchase_order_lines',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('client_id', sa.Integer(), nullable=False),
        sa.Column('order_id', sa.Integer(), nullable=False),
        sa.Column('product_id', sa.Integer(), nullable=False),
        sa.Column('quantity', sa.Integer(), nullable=False),
        sa.Column('received', sa.Integer(), nullable=False, server_default='0'),
        sa.Column('unit_cost', MONEY, nullable=True),
        sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_purchase_order_lines_client_id_clients')),
        sa.ForeignKeyConstraint(['order_id'], ['purchase_orders.id'], ondelete='CASCADE',
                                name=op.f('fk_purchase_order_lines_order_id_purchase_orders')),
        sa.ForeignKeyConstraint(['product_id'], ['products.id'],
                                name=op.f('fk_purchase_order_lines_product_id_products')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_purchase_order_lines')),
        sa.UniqueConstraint('order_id', 'product_id', name='uq_purchase_order_lines_order_product'),
    )
    op.create_index('ix_purchase_order_lines_product', 'purchase_order_lines', ['client_id', 'product_id'])
    # Plain ADD COLUMNs (no table copy on SQLite, which would trip the foreign keys pointing at products).
    op.add_column('products', sa.Column('supplier_id', sa.Integer(), nullable=True))
    op.add_column('products', sa.Column('cost_price', MONEY, nullable=True))
    op.add_column('products', sa.Column('sell_price', MONEY, nullable=True))
    op.add_column('products', sa.Column('reorder_quantity', sa.Integer(), nullable=True))
    op.add_column('products', sa.Column('max_stock', sa.Integer(), nullable=True))
    op.add_column('products', sa.Column('pack_size', sa.Integer(), nullable=False, server_default='1'))
    op.create_index('ix_products_supplier', 'products', ['client_id', 'supplier_id'])
    op.add_column('stock_movements', sa.Column('note', sa.String(length=200), nullable=True))
    op.add_column('notification_settings',
                  sa.Column('currency', sa.String(length=3), nullable=False, server_default='USD'))


def downgrade():
    op.drop_column('notification_settings', 'currency')
    op.drop_column('stock_movements', 'note')
    op.drop_index('ix_products_supplier', table_name='products')
    for column in ('pack_size', 'max_stock', 'reorder_quantity', 'sell_price', 'cost_price', 'supplier_id'):
        op.drop_column('products', column)
    op.drop_index('ix_purchase_order_lines_product', table_name='purchase_order_lines')
    op.drop_table('purchase_order_lines')
    op.drop_index('ix_purchase_orders_status', table_name='purchase_orders')
    op.drop_table('purchase_orders')
    op.drop_index('ix_suppliers_client', table_name='suppliers')
    op.drop_table('suppliers')
