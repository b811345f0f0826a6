"""The bell's unread count kept per user (`unread_counts`), in the same transaction as the
notifications it counts: the poll from every open tab reads one row instead of counting.

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
    op.create_table(
        'unread_counts',
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('client_id', sa.Integer(), nullable=False),
        sa.Column('unread', sa.Integer(), nullable=False, server_default='0'),
        sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_unread_counts_client_id_clients')),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_unread_counts_user_id_users')),
        sa.PrimaryKeyConstraint('user_id', name=op.f('pk_unread_counts')),
    )
    # Everyone who has notifications starts from what they have unread now.
    op.execute("INSERT INTO unread_counts (user_id, client_id, unread)"
               " SELECT user_id, client_id, sum(CASE WHEN is_read THEN 0 ELSE 1 END) FROM notifications"
               " GROUP BY user_id, client_id")


def downgrade():
    op.drop_table('unread_counts')
