"""The back office: where each stock movement came from (`source`: app, token or import); every
existing movement was made in the app.

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    # Plain ADD COLUMN with a server default: existing rows become 'app', no table copy on SQLite.
    op.add_column('stock_movements', sa.Column('source', sa.String(length=8), nullable=False, server_default='app'))


def downgrade():
    # Plain DROP COLUMN (SQLite 3.35+): a batch copy would drop categories' expression index.
    op.drop_column('stock_movements', 'source')
