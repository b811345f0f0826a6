"""The bell and keeping data: the bell's list read newest first on an index `(user_id, id)` (no
sort of all of a user's notifications), and two partial indexes that let the worker find what
retention removes without reading what it keeps: read notifications by age, and deliveries that
still hold a body by age (an emptied row leaves the index).

Revision ID: 0010
Revises: 0009
"""
import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

# Written as the pruning queries write them: SQLite uses a partial index only for a query that
# carries the same terms.
READ = sa.text('is_read = 1')
READ_PG = sa.text('is_read = true')
BODY_KEPT = sa.text("payload IS NOT NULL OR body != ''")


def upgrade():
    op.create_index('ix_notifications_user_id', 'notifications', ['user_id', 'id'])
    op.create_index('ix_notifications_read_created', 'notifications', ['created_at'],
                    sqlite_where=READ, postgresql_where=READ_PG)
    op.create_index('ix_deliveries_body_kept', 'deliveries', ['created_at'],
                    sqlite_where=BODY_KEPT, postgresql_where=BODY_KEPT)


def downgrade():
    op.drop_index('ix_deliveries_body_kept', table_name='deliveries')
    op.drop_index('ix_notifications_read_created', table_name='notifications')
    op.drop_index('ix_notifications_user_id', table_name='notifications')
