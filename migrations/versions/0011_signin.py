"""Sign-in: one row per signed-in session (a plain logout deletes it, so every copy of that
session's cookie stops working), and each worker process's heartbeat (so /health on any web
process tells whether the workers live).

Revision ID: 0011
Revises: 0010
"""
import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'user_sessions',
        sa.Column('key', sa.String(length=64), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_sessions_user_id_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('key', name=op.f('pk_user_sessions')),
    )
    op.create_index('ix_user_sessions_user_id', 'user_sessions', ['user_id', 'created_at'])
    op.create_table(
        'worker_heartbeats',
        sa.Column('id', sa.String(length=200), nullable=False),
        sa.Column('kind', sa.String(length=32), nullable=False),
        sa.Column('host', sa.String(length=128), nullable=False),
        sa.Column('pid', sa.Integer(), nullable=False),
        sa.Column('started_at', sa.DateTime(), nullable=False),
        sa.Column('last_beat_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_worker_heartbeats')),
    )
    op.create_index('ix_worker_heartbeats_last_beat_at', 'worker_heartbeats', ['last_beat_at'])


def downgrade():
    op.drop_index('ix_worker_heartbeats_last_beat_at', table_name='worker_heartbeats')
    op.drop_table('worker_heartbeats')
    op.drop_index('ix_user_sessions_user_id', table_name='user_sessions')
    op.drop_table('user_sessions')
