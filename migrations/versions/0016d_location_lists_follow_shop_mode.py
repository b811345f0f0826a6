"""A location's recipient lists follow the shop's delivery mode, as the shop's own lists do (issue
19): their rows were made with mode 'instant', so they never heard the daily digest. Now their
mode is null (the shop's), and a digest shop's location lists get that location's digest.

Revision ID: 0016d
Revises: 0016w
"""
from alembic import op

revision = '0016d'
down_revision = '0016w'
branch_labels = None
depends_on = None


def upgrade():
    op.execute("UPDATE recipients SET mode = NULL "
               "WHERE location_id IS NOT NULL AND user_id IS NULL AND mode = 'instant'")


def downgrade():
    op.execute("UPDATE recipients SET mode = 'instant' "
               "WHERE location_id IS NOT NULL AND user_id IS NULL AND mode IS NULL")
