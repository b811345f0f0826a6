"""The daily sales rollup (issue 18): units sold per product, place and shop-local day, the
forecast's input from now on, backfilled from the sale movements (reason "sale", delta < 0) on the
shop-local date of each. PostgreSQL converts zones in SQL; SQLite cannot, so it sums per shop,
place, product and UTC quarter hour in SQL and folds them to local dates here.

Revision ID: 0015
Revises: 0014p
"""
from collections import defaultdict
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014p'
branch_labels = None
depends_on = None

BATCH = 10_000  # folded rows written per INSERT on SQLite


def upgrade():
    op.create_table(
        'sales_daily',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('client_id', sa.Integer(), nullable=False),
        sa.Column('product_id', sa.Integer(), nullable=False),
        sa.Column('location_id', sa.Integer(), nullable=False),
        sa.Column('sale_date', sa.Date(), nullable=False),
        sa.Column('units', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name='fk_sales_daily_client_id_clients'),
        sa.ForeignKeyConstraint(['product_id'], ['products.id'], name='fk_sales_daily_product_id_products'),
        sa.ForeignKeyConstraint(['location_id'], ['locations.id'], name='fk_sales_daily_location_id_locations'),
        sa.PrimaryKeyConstraint('id', name='pk_sales_daily'),
        sa.UniqueConstraint('product_id', 'location_id', 'sale_date', name='uq_sales_daily_day'),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("""
            INSERT INTO sales_daily (client_id, product_id, location_id, sale_date, units)
            SELECT m.client_id, m.product_id, m.location_id,
                   CAST((m.created_at AT TIME ZONE 'UTC') AT TIME ZONE c.timezone AS DATE), SUM(-m.delta)
            FROM stock_movements AS m JOIN clients AS c ON c.id = m.client_id
            WHERE m.reason = 'sale' AND m.delta < 0 AND m.location_id IS NOT NULL
            GROUP BY 1, 2, 3, 4""")
    else:
        _backfill_by_hours(op.get_bind())
    # Built after the backfill: one sort instead of an index kept up row by row.
    op.create_index('ix_sales_daily_client_date', 'sales_daily',
                    ['client_id', 'sale_date', 'product_id', 'location_id', 'units'])


def _backfill_by_hours(conn):
    """SQLite: the sales summed per shop, product, place and UTC quarter hour (every zone's offset
    today is a whole number of quarter hours and changes on one, so each quarter hour falls on one
    local date, DST changes included), folded to shop-local dates one shop at a time (at most one
    row per product, place and quarter hour in memory)."""
    zones = dict(conn.execute(sa.text("SELECT id, timezone FROM clients")).all())
    insert = sa.text("INSERT INTO sales_daily (client_id, product_id, location_id, sale_date, units) "
                     "VALUES (:client_id, :product_id, :location_id, :sale_date, :units)")
    for client_id, zone_name in sorted(zones.items()):
        zone = ZoneInfo(zone_name)
        days = defaultdict(int)
        quarters = conn.execute(sa.text("""
            SELECT product_id, location_id, strftime('%Y-%m-%d %H', created_at) AS hour,
                   CAST(strftime('%M', created_at) AS INTEGER) / 15 AS quarter, SUM(-delta)
            FROM stock_movements
            WHERE client_id = :client_id AND reason = 'sale' AND delta < 0 AND location_id IS NOT NULL
            GROUP BY product_id, location_id, hour, quarter"""), {"client_id": client_id})
        for product_id, location_id, hour, quarter, units in quarters:
            instant = datetime.strptime(hour, "%Y-%m-%d %H").replace(minute=15 * quarter, tzinfo=timezone.utc)
            days[(product_id, location_id, instant.astimezone(zone).date())] += units
        rows = [{"client_id": client_id, "product_id": p, "location_id": loc, "sale_date": day.isoformat(),
                 "units": units} for (p, loc, day), units in sorted(days.items())]
        for start in range(0, len(rows), BATCH):
            conn.execute(insert, rows[start:start + BATCH])


def downgrade():
    op.drop_index('ix_sales_daily_client_date', table_name='sales_daily')
    op.drop_table('sales_daily')
