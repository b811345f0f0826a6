"""The outbox's INSERT ... SELECT joins each new alert to its shop's addresses: an index on
(client_id, enabled) serves that join (and every page that reads a shop's lists), where the only
indexes started with (client_id, channel, address) under a partial condition the join cannot use,
so SQLite scanned every shop's addresses per alert or built an automatic index per statement.

Revision ID: 0017o
Revises: 0016p
"""
from alembic import op

revision = '0017o'
down_revision = '0016p'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_recipients_client_enabled', 'recipients', ['client_id', 'enabled'])


def downgrade():
    op.drop_index('ix_recipients_client_enabled', table_name='recipients')
