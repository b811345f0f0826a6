"""Category names are unique per shop whatever their case ("Frozen" and "frozen" are one).

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    # An expression index: both SQLite and PostgreSQL enforce it.
    op.create_index('uq_categories_client_lower_name', 'categories', ['client_id', sa.text('lower(name)')],
                    unique=True)


def downgrade():
    op.drop_index('uq_categories_client_lower_name', table_name='categories')
