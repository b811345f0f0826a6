"""Pages at 100,000 products (issue 18): the low tab counted from an index alone (stock with what
the effective threshold reads), and a search by part of a name or SKU served by an index: trigram
indexes on PostgreSQL (pg_trgm, when the server has it; without it the search reads the table as
before), on SQLite an index of the lowered name and SKU, whose values the search reads instead of
lowering every row's.

Revision ID: 0016p
Revises: 0016d
"""
import sqlalchemy as sa
from alembic import op

revision = '0016p'
down_revision = '0016d'
branch_labels = None
depends_on = None

SEARCHED = ('name', 'sku')


def _trigrams_available(bind):
    """Whether pg_trgm is installed in the database, installing it when the server ships it and we
    may (a savepoint: a refusal must not abort the migration's transaction)."""
    if bind.execute(sa.text("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")).first():
        return True
    if not bind.execute(sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")).first():
        return False
    try:
        with bind.begin_nested():
            bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
        return True
    except sa.exc.DBAPIError:
        return False


def upgrade():
    op.create_index('ix_products_client_active_low', 'products',
                    ['client_id', 'active', 'stock', 'low_stock_threshold', 'category_id'])
    bind = op.get_bind()
    if bind.dialect.name == 'postgresql':
        if _trigrams_available(bind):
            for column in SEARCHED:
                op.execute(f'CREATE INDEX ix_products_{column}_trigrams ON products '
                           f'USING gin (lower({column}) gin_trgm_ops)')
    else:
        # Partial on the search's own always-true term (a name is never NULL), so that only a search
        # uses it: SQLite would otherwise count all products through it, its rows the widest.
        op.execute("CREATE INDEX ix_products_client_search ON products (client_id, active, lower(name), lower(sku)) "
                   "WHERE lower(name) >= ''")


def downgrade():
    # pg_trgm stays installed: other databases' objects may use it, and it costs nothing unused.
    if op.get_bind().dialect.name == 'postgresql':
        for column in SEARCHED:
            op.execute(f'DROP INDEX IF EXISTS ix_products_{column}_trigrams')
    else:
        op.drop_index('ix_products_client_search', table_name='products')
    op.drop_index('ix_products_client_active_low', table_name='products')
