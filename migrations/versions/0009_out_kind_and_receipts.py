"""`out` is an alert kind of its own: a day's `low` log rows and notifications at zero stock become
`out` (so an upgrade on the day a product ran out does not ring it again), and every person whose
kinds listed `low` hears `out` too. Receipts that come before their send is recorded are kept
(`provider_receipts`). A person may have several addresses on one channel (a push subscription per
device): their rows are unique per (user, channel, address), and the channels with one address
per person keep it so in code.

Revision ID: 0009
Revises: 0008
"""
import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    op.execute("UPDATE stock_alert_log SET kind = 'out' WHERE kind = 'low' AND stock_level <= 0")
    op.execute("UPDATE notifications SET kind = 'out' WHERE kind = 'low' AND level = 'out'")
    op.execute("UPDATE user_preferences SET kinds = kinds || 'out,' "
               "WHERE kinds LIKE '%,low,%' AND kinds NOT LIKE '%,out,%'")
    op.create_table(
        'provider_receipts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('provider_id', sa.String(length=128), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=True),
        sa.Column('provider_status', sa.String(length=32), nullable=False),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('opt_out', sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column('received_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_provider_receipts')),
    )
    op.create_index('ix_provider_receipts_provider_id', 'provider_receipts', ['provider_id'])
    op.drop_index('uq_recipients_user_channel', table_name='recipients')
    op.create_index('uq_recipients_user_address', 'recipients', ['user_id', 'channel', 'address'], unique=True,
                    sqlite_where=sa.text('user_id IS NOT NULL'), postgresql_where=sa.text('user_id IS NOT NULL'))


# An `out` row of a day that also has a `low` row of the same product: it folds into that one.
_TWIN = ("SELECT low.id FROM stock_alert_log AS low WHERE low.client_id = o.client_id "
         "AND low.product_id = o.product_id AND low.alert_date = o.alert_date AND low.kind = 'low'")


def downgrade():
    # One address per person and channel again: keep each person's first.
    op.execute("DELETE FROM recipients WHERE user_id IS NOT NULL AND id NOT IN "
               "(SELECT min(id) FROM recipients WHERE user_id IS NOT NULL GROUP BY user_id, channel)")
    op.drop_index('uq_recipients_user_address', table_name='recipients')
    op.create_index('uq_recipients_user_channel', 'recipients', ['user_id', 'channel'], unique=True,
                    sqlite_where=sa.text('user_id IS NOT NULL'), postgresql_where=sa.text('user_id IS NOT NULL'))
    op.drop_index('ix_provider_receipts_provider_id', table_name='provider_receipts')
    op.drop_table('provider_receipts')
    op.execute("UPDATE user_preferences SET kinds = replace(kinds, ',out,', ',') WHERE kinds LIKE '%,out,%'")
    for table in ("notifications", "deliveries"):
        op.execute(f"UPDATE {table} SET alert_log_id = (SELECT ({_TWIN}) FROM stock_alert_log AS o "
                   f"WHERE o.id = {table}.alert_log_id) "
                   f"WHERE alert_log_id IN (SELECT o.id FROM stock_alert_log AS o WHERE o.kind = 'out' "
                   f"AND EXISTS ({_TWIN}))")
    op.execute(f"DELETE FROM stock_alert_log WHERE id IN (SELECT o.id FROM stock_alert_log AS o "
               f"WHERE o.kind = 'out' AND EXISTS ({_TWIN}))")
    op.execute("UPDATE stock_alert_log SET kind = 'low' WHERE kind = 'out'")
    op.execute("UPDATE notifications SET kind = 'low' WHERE kind = 'out'")
