"""The monitor_scan bench's data: the shape of a run, the migrated template databases (a SQLite file,
a throwaway PostgreSQL cluster) it copies for each load, the bulk load itself and the reset between runs.
"""
import logging
import math
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from flask_migrate import upgrade
from sqlalchemy import DateTime, bindparam, text

from modules import create_app
from modules.extensions import db
from modules.auth.models import DEFAULT_THRESHOLD
from modules.timeutil import utcnow
from tests.support.postgres import TemporaryCluster

CATEGORIES_PER_SHOP = 5
WRITTEN_BY_CYCLE = ("notifications", "deliveries", "stock_alerts", "stock_alert_log")  # children first


@dataclass(frozen=True)
class Shape:
    shops: int
    products: int  # per shop
    low_every: int  # every n-th product of a shop is low (20: 5%)

    @property
    def low_per_shop(self):
        return math.ceil(self.products / self.low_every)

    @property
    def expected_alerts(self):
        return self.shops * self.low_per_shop

    def __str__(self):
        return f"{self.shops:,} shops x {self.products:,} products ({self.expected_alerts:,} low)"


# --- databases -------------------------------------------------------------------------------

def bench_config(url):
    return {
        "SQLALCHEMY_DATABASE_URI": url,
        "SECRET_KEY": "bench-secret-not-for-production",
        "SEED_DEMO": False,
        "STOCK_MONITOR_ENABLED": False,
        "DELIVERY_ENABLED": False,
        "LOG_LEVEL": "WARNING",
    }


def migrate(url):
    """Build the schema the way the app does: by running the migrations."""
    app = create_app(bench_config(url))
    logging.disable(logging.INFO)  # Alembic's "Running upgrade ..." lines, not part of the report
    try:
        with app.app_context():
            upgrade()
            db.engine.dispose()
    finally:
        logging.disable(logging.NOTSET)


class SqliteDatabases:
    name = "sqlite"

    def __init__(self, workdir):
        self.workdir = Path(workdir)
        self.template = self.workdir / "template.db"
        migrate(f"sqlite:///{self.template}")
        self.made = 0

    def new(self):
        self.made += 1
        path = self.workdir / f"bench{self.made}.db"
        shutil.copy(self.template, path)
        return f"sqlite:///{path}"

    def version(self):
        return f"SQLite {sqlite3.sqlite_version}"

    def close(self):
        pass


class PostgresDatabases:
    name = "postgres"

    def __init__(self):
        self.cluster = TemporaryCluster().start()
        try:
            self.cluster.execute("CREATE DATABASE bench_template")
            migrate(self.cluster.url("bench_template"))
        except Exception:
            self.cluster.stop()
            raise
        self.made = 0

    def new(self):
        self.made += 1
        name = f"bench{self.made}"
        self.cluster.execute(f"CREATE DATABASE {name} TEMPLATE bench_template")
        return self.cluster.url(name)

    def version(self):
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=self.cluster.port, user="postgres", dbname="postgres") as conn:
            return "PostgreSQL " + conn.execute("SHOW server_version").fetchone()[0]

    def close(self):
        self.cluster.stop()


def series_cte(dialect, n):
    """WITH series(i): the integers 1..n, without a round trip per row."""
    if dialect == "postgresql":
        return f"WITH series(i) AS (SELECT generate_series(1, {int(n)}))"
    return f"WITH RECURSIVE series(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM series WHERE i < {int(n)})"


def load(shape):
    """Shops, their owner, settings for every other shop (the rest run on defaults), five
    categories each (a seventh of the products uncategorized) and the products; in one transaction."""
    dialect = db.engine.dialect.name
    shops, per_shop, every = shape.shops, shape.products, shape.low_every
    now = bindparam("now", utcnow(), type_=DateTime)
    statements = [
        f"""{series_cte(dialect, shops)}
        INSERT INTO clients (id, name, timezone, allow_negative_stock, created_at)
        SELECT i, 'Shop ' || i, 'UTC', FALSE, :now FROM series""",
        f"""{series_cte(dialect, shops)}
        INSERT INTO users (id, client_id, email, password_hash, role, active, created_at)
        SELECT i, i, 'owner' || i || '@bench.test', 'not-a-hash', 'owner', TRUE, :now FROM series""",
        f"""{series_cte(dialect, shops)}
        INSERT INTO notification_settings (client_id, low_stock_enabled, low_stock_threshold,
            email_enabled, email_recipients, whatsapp_enabled, whatsapp_numbers, sms_enabled, sms_numbers,
            delivery_mode, digest_time, updated_at)
        SELECT i, TRUE, {DEFAULT_THRESHOLD}, FALSE, '[]', FALSE, '[]', FALSE, '[]', 'instant', '09:00', :now
        FROM series WHERE i % 2 = 1""",
        f"""{series_cte(dialect, shops * CATEGORIES_PER_SHOP)}
        INSERT INTO categories (id, client_id, name)
        SELECT i, (i - 1) / {CATEGORIES_PER_SHOP} + 1, 'Category ' || ((i - 1) % {CATEGORIES_PER_SHOP})
        FROM series""",
        # k = the product's index in its shop; k % every = 0 is low (stock 0..5), the rest 10..99.
        f"""{series_cte(dialect, shops * per_shop)}
        INSERT INTO products (id, client_id, category_id, name, sku, stock, low_stock_threshold, active,
            created_at, updated_at)
        SELECT i, client_id,
               CASE WHEN k % 7 = 3 THEN NULL
                    ELSE (client_id - 1) * {CATEGORIES_PER_SHOP} + (k / 3) % {CATEGORIES_PER_SHOP} + 1 END,
               'Product ' || i, 'SKU-' || i,
               CASE WHEN k % {every} = 0 THEN (k / {every}) % 6 ELSE 10 + k % 90 END,
               NULL, TRUE, :now, :now
        FROM (SELECT i, (i - 1) / {per_shop} + 1 AS client_id, (i - 1) % {per_shop} AS k FROM series) AS p""",
    ]
    with db.engine.begin() as conn:
        for sql in statements:
            stmt = text(sql)
            if ":now" in sql:
                stmt = stmt.bindparams(now)
            conn.execute(stmt)
        if dialect == "postgresql":  # explicit ids leave the serial sequences behind
            for table in ("clients", "users", "notification_settings", "categories", "products"):
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                  f"(SELECT max(id) FROM {table}))"))
    if dialect == "postgresql":  # what autovacuum would have done by the time the monitor runs
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))


def reset():
    """Empty what a cycle (or the floor) wrote, so that the next 'first' starts from an empty log."""
    dialect = db.engine.dialect.name
    if dialect == "postgresql":
        with db.engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {', '.join(WRITTEN_BY_CYCLE)} RESTART IDENTITY"))
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("CHECKPOINT"))
    else:
        with db.engine.begin() as conn:
            for table in WRITTEN_BY_CYCLE:
                conn.execute(text(f"DELETE FROM {table}"))
        with db.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
