"""The monitor_scan bench's data: the shape of a run, the migrated template databases (a SQLite file,
a throwaway PostgreSQL cluster) it copies for each load, the bulk load itself (products; their sales
in monitor_sales.py), the forecast switch and the reset between runs.
"""
import logging
import math
import shutil
import sqlite3
from dataclasses import dataclass, replace
from pathlib import Path

from flask_migrate import upgrade
from sqlalchemy import DateTime, bindparam, text

from bench.monitor_sales import FAST_SALES_PER_STOCK, load_sales
from modules import create_app
from modules.extensions import db
from modules.auth.models import DEFAULT_THRESHOLD
from modules.timeutil import utcnow
from tests.support.postgres import TemporaryCluster

CATEGORIES_PER_SHOP = 5
WRITTEN_BY_CYCLE = ("notifications", "deliveries", "stock_alerts", "stock_alert_log")  # children first
FORECAST_WINDOW_DAYS = 28  # notification_settings.forecast_window_days' default
OWN_SETTINGS = "{client_id} % 2 = 1"  # the shops load() gives a settings row; the rest run on defaults
SMS_EVERY = 4  # every n-th shop has an SMS number on its list besides its email address


@dataclass(frozen=True)
class Shape:
    shops: int
    products: int  # per shop
    low_every: int  # every n-th place of a shop is low (20: 5%)
    movements: int = 0  # sale movements per product over the last 26 days (0: no sales, no forecast)
    fast_every: int = 10  # every n-th product of a shop (k % n == 1) sells fast
    forecast_days: int = 3  # the forecast's setting when it is on
    sms_every: int = SMS_EVERY  # every n-th shop (id % n == 0) has an SMS number too; every shop an email
    locations: int = 1  # per shop, each carrying every product of the shop (Main, the default, is the first)

    # A place is a product at a location: the q-th place of a shop is its product k = q // locations
    # at its location j = q % locations (j = 0: Main, where the sales are). With one location q = k.

    @property
    def sms_shops(self):
        return self.shops // self.sms_every

    @property
    def places(self):
        """Stock rows (product_stock) per shop."""
        return self.products * self.locations

    def place_stock(self, q):
        """The stock of a shop's q-th place (0-based), as load() writes it."""
        return (q // self.low_every) % 6 if self.is_low(q) else 10 + q % 90

    def stock(self, k):
        """The stock of a shop's k-th product (0-based), summed over its locations."""
        return sum(self.place_stock(k * self.locations + j) for j in range(self.locations))

    def is_low(self, q):
        return q % self.low_every == 0

    def is_fast(self, k):
        return k % self.fast_every == 1 % self.fast_every and not self.is_low(k * self.locations)

    def units_sold(self, k):
        """Units sold in the window by the k-th product (all at Main): ten times its stock there for
        a fast seller, one a movement for the rest."""
        return FAST_SALES_PER_STOCK * self.place_stock(k * self.locations) if self.is_fast(k) else self.movements

    @property
    def low_per_shop(self):
        """Low places per shop."""
        return math.ceil(self.places / self.low_every)

    @property
    def expected_alerts(self):
        return self.shops * self.low_per_shop

    @property
    def forecast_per_shop(self):
        """Places of a shop the forecast alerts on: at Main (where the sales are), not low, sold in
        the window, and stock * window // units <= forecast_days (worked out here, apart from the app's rule)."""
        if not self.movements:
            return 0
        main = [(k, self.place_stock(k * self.locations)) for k in range(self.products)]
        return sum(1 for k, stock in main if not self.is_low(k * self.locations)
                   and stock * FORECAST_WINDOW_DAYS // self.units_sold(k) <= self.forecast_days)

    @property
    def expected_forecast_alerts(self):
        return self.shops * self.forecast_per_shop

    @property
    def sale_movements(self):
        return self.shops * self.products * self.movements

    @property
    def expected_deliveries(self):
        """Outbox rows of a first cycle with the forecast off: one per low alert and recipient."""
        return (self.shops + self.sms_shops) * self.low_per_shop

    def one_location(self):
        """The comparison: as many stock rows, all at one location per shop (N x the products)."""
        return replace(self, products=self.places, locations=1)

    def __str__(self):
        where = "" if self.locations == 1 else (f" at {self.locations} locations each "
                                                 f"({self.shops * self.places:,} stock rows)")
        text = (f"{self.shops:,} shops x {self.products:,} products{where} ({self.expected_alerts:,} low; "
                f"recipients: email in every shop, SMS in {self.sms_shops:,})")
        if self.movements:
            text += (f", {self.movements} sales per product ({self.sale_movements:,} movements; "
                     f"{self.expected_forecast_alerts:,} forecast at forecast_days = {self.forecast_days})")
        return text


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


def stock_sql(q, every):
    """The stock of the place q (an SQL expression), as Shape.place_stock() has it."""
    return f"CASE WHEN {q} % {every} = 0 THEN ({q} / {every}) % 6 ELSE 10 + {q} % 90 END"


def product_stock_sql(shape):
    """products.stock of the product k (a column of load()'s series): its places' stock summed."""
    n, every = shape.locations, shape.low_every
    if n == 1:
        return stock_sql("k", every)
    return " + ".join(stock_sql(f"(k * {n} + {j})", every) for j in range(n))


def load(shape):
    """Shops, their owner, settings for every other shop (the rest run on defaults), the shop's
    recipients (an email address in every shop, an SMS number in every `sms_every`th, instant
    by the shop's mode), five categories each (a seventh of the products uncategorized), the
    products, their stock at each of the shop's `shape.locations` locations (Main, then 'Store 2'...)
    and their sale movements (at Main); in one transaction. The forecast is off (forecast_days = 0)
    until set_forecast()."""
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
            delivery_mode, digest_time, updated_at)
        SELECT i, TRUE, {DEFAULT_THRESHOLD}, 'instant', '09:00', :now
        FROM series WHERE {OWN_SETTINGS.format(client_id="i")}""",
        f"""{series_cte(dialect, shops)}
        INSERT INTO recipients (client_id, user_id, channel, address, enabled, mode, created_at)
        SELECT i, NULL, 'email', 'alerts' || i || '@bench.test', TRUE, NULL, :now FROM series""",
        f"""{series_cte(dialect, shops)}
        INSERT INTO recipients (client_id, user_id, channel, address, enabled, mode, created_at)
        SELECT i, NULL, 'sms', '+1415' || CAST(1000000 + i AS VARCHAR(16)), TRUE, NULL, :now
        FROM series WHERE i % {shape.sms_every} = 0""",
        f"""{series_cte(dialect, shops * CATEGORIES_PER_SHOP)}
        INSERT INTO categories (id, client_id, name)
        SELECT i, (i - 1) / {CATEGORIES_PER_SHOP} + 1, 'Category ' || ((i - 1) % {CATEGORIES_PER_SHOP})
        FROM series""",
        # k = the product's index in its shop; at one location k % every = 0 is low (stock 0..5), the
        # rest 10..99; at n locations the stock is the sum of its places' (see product_stock below).
        f"""{series_cte(dialect, shops * per_shop)}
        INSERT INTO products (id, client_id, category_id, name, sku, stock, low_stock_threshold, active,
            created_at, updated_at)
        SELECT i, client_id,
               CASE WHEN k % 7 = 3 THEN NULL
                    ELSE (client_id - 1) * {CATEGORIES_PER_SHOP} + (k / 3) % {CATEGORIES_PER_SHOP} + 1 END,
               'Product ' || i, 'SKU-' || i,
               {product_stock_sql(shape)},
               NULL, TRUE, :now, :now
        FROM (SELECT i, (i - 1) / {per_shop} + 1 AS client_id, (i - 1) % {per_shop} AS k FROM series) AS p""",
        # Every shop's one location, Main (its id is the shop's), which carries all its products.
        f"""{series_cte(dialect, shops)}
        INSERT INTO locations (id, client_id, name, kind, is_default, active, created_at)
        SELECT i, i, 'Main', 'store', TRUE, TRUE, :now FROM series""",
    ]
    if shape.locations == 1:
        statements.append("""INSERT INTO product_stock (id, client_id, product_id, location_id, stock, updated_at)
        SELECT id, client_id, id, client_id, stock, updated_at FROM products""")
    else:
        n = shape.locations
        # The other locations, 'Store 2'.. 'Store n' (ids after the shops' Mains), each carrying every
        # product: the place q = k * n + j (j = 0 at Main) has the stock a one-location shop's q-th product has.
        q = f"(((p.id - 1) % {per_shop}) * {n} + j.i - 1)"
        statements += [
            f"""{series_cte(dialect, shops * (n - 1))}
            INSERT INTO locations (id, client_id, name, kind, is_default, active, created_at)
            SELECT {shops} + i, (i - 1) / {n - 1} + 1, 'Store ' || ((i - 1) % {n - 1} + 2), 'store', FALSE, TRUE, :now
            FROM series""",
            f"""{series_cte(dialect, n)}
            INSERT INTO product_stock (id, client_id, product_id, location_id, stock, updated_at)
            SELECT (p.id - 1) * {n} + j.i, p.client_id, p.id,
                   CASE WHEN j.i = 1 THEN p.client_id ELSE {shops} + (p.client_id - 1) * {n - 1} + j.i - 1 END,
                   {stock_sql(q, every)}, p.updated_at
            FROM products AS p CROSS JOIN series AS j""",
        ]
    with db.engine.begin() as conn:
        for sql in statements:
            stmt = text(sql)
            if ":now" in sql:
                stmt = stmt.bindparams(now)
            conn.execute(stmt)
        if shape.movements:
            load_sales(conn, shape)
        if dialect == "postgresql":  # explicit ids leave the serial sequences behind
            for table in ("clients", "users", "notification_settings", "categories", "products"):
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                  f"(SELECT max(id) FROM {table}))"))
            # The bench empties these tables between phases. An autovacuum ANALYZE that lands while
            # a cycle's INSERT is in flight records one as empty (relpages > 0, reltuples = 0), and the
            # cycle's next `id = ANY(:ids)` lookups then scan it whole: 3.6 s per 2,000-id chunk instead
            # of milliseconds, 135 s for one cycle. A live log never shrinks to empty; the bench's do.
            for table in WRITTEN_BY_CYCLE:
                conn.execute(text(f"ALTER TABLE {table} SET (autovacuum_enabled = false)"))
    if dialect == "postgresql":  # what autovacuum would have done by the time the monitor runs
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))


def set_forecast(shape, on):
    """The forecast on (forecast_days = shape.forecast_days in every shop: the shops that run on
    defaults get a settings row for it) or off (forecast_days = 0, and those rows gone again)."""
    now = bindparam("now", utcnow(), type_=DateTime)
    with db.engine.begin() as conn:
        if on:
            conn.execute(text(f"""
                INSERT INTO notification_settings (client_id, low_stock_enabled, low_stock_threshold,
                    delivery_mode, digest_time, updated_at)
                SELECT c.id, TRUE, {DEFAULT_THRESHOLD}, 'instant', '09:00', :now
                FROM clients AS c WHERE NOT ({OWN_SETTINGS.format(client_id="c.id")})""").bindparams(now))
        else:
            conn.execute(text(f"DELETE FROM notification_settings "
                              f"WHERE NOT ({OWN_SETTINGS.format(client_id='client_id')})"))
        conn.execute(text("UPDATE notification_settings SET forecast_days = :days"),
                     {"days": shape.forecast_days if on else 0})
    if db.engine.dialect.name == "postgresql":  # the planner sees the settings as they now are
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE notification_settings"))


def settle():
    """After a first cycle's burst, what autovacuum's ANALYZE does in a live database within a
    minute (the bench keeps autovacuum off on these tables, see load()): statistics that count the
    day's log, so that a repeat cycle's "already logged today" look-ups go by the log's key, not by
    a plan made for an empty table. SQLite keeps no statistics: nothing to do."""
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f"ANALYZE {', '.join(WRITTEN_BY_CYCLE)}"))


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
