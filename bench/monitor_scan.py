"""The stock monitor's scan against its floor: `run_cycle()` timed beside one hand-written
INSERT ... SELECT ... ON CONFLICT DO NOTHING over the same tables, on SQLite and PostgreSQL.

    python bench/monitor_scan.py                       # 1,000 shops x 1,000 products, both databases
    python bench/monitor_scan.py --quick --db sqlite   # 50 shops x 200 products, a few seconds

Schemas are built by the migrations, rows are bulk-loaded with INSERT ... SELECT over a number
series (generate_series on PostgreSQL, a recursive CTE on SQLite), PostgreSQL runs in a
throwaway cluster that the bench starts and removes. Every shop is on UTC with one active user;
every `--low-every`th product of a shop is at or below the default threshold of 5.

Each round times the floor, floor+ (the cycle's writes, hand-written) and the cycle, each once on
an empty log ("first") and once more ("repeat"), emptying what they wrote in between; the best
round is shown. Then the tracemalloc peak of one cycle at three sizes: what grows with what.
"""
import argparse
import logging
import math
import platform
import shutil
import sqlite3
import sys
import tempfile
import time
import tracemalloc
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/monitor_scan.py` puts bench/, not the repo, on the path
    sys.path.insert(0, str(ROOT))

from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import Date, DateTime, bindparam, text  # noqa: E402

from modules import create_app  # noqa: E402
from modules.extensions import db  # noqa: E402
from modules.notifications.models import DEFAULT_THRESHOLD  # noqa: E402
from modules.notifications.stock_monitor import run_cycle  # noqa: E402
from modules.timeutil import local_date, utcnow  # noqa: E402
from tests.support.postgres import TemporaryCluster, find_bindir  # noqa: E402

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


@dataclass
class Timing:
    database: str
    phase: str  # "first" (empty log) or "repeat" (everything already logged today)
    cycle_seconds: list = field(default_factory=list)
    floor_seconds: list = field(default_factory=list)
    full_seconds: list = field(default_factory=list)  # floor+: the cycle's writes, hand-written
    new_alerts: list = field(default_factory=list)
    floor_rows: list = field(default_factory=list)
    cycle_writes: dict = field(default_factory=dict)  # rows per table after the cycle's phase
    full_writes: dict = field(default_factory=dict)  # the same after floor+

    # Best of the rounds: on a shared machine the minimum is the figure least disturbed by others.
    @property
    def cycle(self):
        return min(self.cycle_seconds)

    @property
    def floor(self):
        return min(self.floor_seconds)

    @property
    def full(self):
        return min(self.full_seconds)

    @property
    def ratio(self):
        return self.cycle / self.floor if self.floor else float("inf")

    @property
    def full_ratio(self):
        return self.cycle / self.full if self.full else float("inf")


@dataclass
class MemoryPeak:
    database: str
    shape: Shape
    first_new: int
    first_peak: int  # bytes, tracemalloc peak during the cycle
    repeat_new: int
    repeat_peak: int


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


# --- what is measured ------------------------------------------------------------------------

# CROSS JOIN: SQLite's way to fix the join order (one pass over products), since without it
# SQLite may walk clients and then each shop's products through an index, a slower floor than
# the app's own scan. PostgreSQL plans it as the plain join it is.
FLOOR_SQL = text(f"""
INSERT INTO stock_alert_log (client_id, product_id, alert_date, stock_level, threshold_level, created_at)
SELECT p.client_id, p.id, :alert_date, p.stock,
       COALESCE(p.low_stock_threshold, s.low_stock_threshold, {DEFAULT_THRESHOLD}), :now
FROM products AS p
CROSS JOIN clients AS c
LEFT JOIN notification_settings AS s ON s.client_id = p.client_id
WHERE c.id = p.client_id AND p.active AND COALESCE(s.low_stock_enabled, TRUE) AND c.timezone = :timezone
  AND p.stock <= COALESCE(p.low_stock_threshold, s.low_stock_threshold, {DEFAULT_THRESHOLD})
ON CONFLICT (client_id, product_id, alert_date) DO NOTHING
""").bindparams(bindparam("alert_date", type_=Date), bindparam("now", type_=DateTime))


# floor+: what the cycle writes, by hand and without its safeguards: the log rows, then one
# statement each for the notifications and the episodes of the rows this transaction logged
# (picked by their created_at, a shortcut the app cannot take: it goes by the ids RETURNING gave
# it, in chunks), then the restocked episodes resolved. A lower bound for the whole cycle.
LEVEL_SQL = "CASE WHEN l.stock_level <= 0 THEN 'out' ELSE 'low' END"
FULL_FLOOR_SQL = [
    FLOOR_SQL,
    text(f"""
INSERT INTO notifications (client_id, user_id, type, level, message, action_url, is_read, created_at, alert_log_id)
SELECT l.client_id, u.id, 'alert', {LEVEL_SQL},
       CASE WHEN l.stock_level <= 0
            THEN 'Out of Stock: ' || p.name || ' (' || COALESCE(cat.name, 'Uncategorized') || ')'
            ELSE 'Low Stock Alert: ' || p.name || ' - Only ' || CAST(l.stock_level AS VARCHAR)
                 || ' remaining (' || COALESCE(cat.name, 'Uncategorized') || ')' END,
       '/retail/products?stock=' || {LEVEL_SQL}, FALSE, :now, l.id
FROM stock_alert_log AS l
JOIN products AS p ON p.id = l.product_id
LEFT JOIN categories AS cat ON cat.id = p.category_id
JOIN users AS u ON u.client_id = l.client_id AND u.active
WHERE l.alert_date = :alert_date AND l.created_at = :now
""").bindparams(bindparam("alert_date", type_=Date), bindparam("now", type_=DateTime)),
    text(f"""
INSERT INTO stock_alerts (client_id, product_id, level, stock_at_alert, threshold, opened_at, last_notified_at)
SELECT l.client_id, l.product_id, {LEVEL_SQL}, l.stock_level, l.threshold_level, :now, :now
FROM stock_alert_log AS l
WHERE l.alert_date = :alert_date AND l.created_at = :now
ON CONFLICT (product_id) WHERE resolved_at IS NULL DO UPDATE SET level = excluded.level,
    stock_at_alert = excluded.stock_at_alert, threshold = excluded.threshold,
    last_notified_at = excluded.last_notified_at
""").bindparams(bindparam("alert_date", type_=Date), bindparam("now", type_=DateTime)),
    text(f"""
UPDATE stock_alerts SET resolved_at = :now
WHERE resolved_at IS NULL AND EXISTS (
    SELECT 1 FROM products AS p LEFT JOIN notification_settings AS s ON s.client_id = p.client_id
    WHERE p.id = stock_alerts.product_id
      AND NOT (p.active AND p.stock <= COALESCE(p.low_stock_threshold, s.low_stock_threshold, {DEFAULT_THRESHOLD})))
""").bindparams(bindparam("now", type_=DateTime)),
]


def written():
    """Rows per table the cycle writes, to check that floor+ did the same work."""
    with db.engine.connect() as conn:
        return {table: conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
                for table in WRITTEN_BY_CYCLE}


def time_full_floor():
    """floor+, committed as one transaction like the cycle."""
    now = utcnow()
    params = {"alert_date": local_date("UTC", now), "now": now, "timezone": "UTC"}
    started = time.perf_counter()
    with db.engine.begin() as conn:
        for stmt in FULL_FLOOR_SQL:
            conn.execute(stmt, params)
    return time.perf_counter() - started


def time_floor():
    """The least a scan can do: one statement that logs today's low products, committed."""
    now = utcnow()
    started = time.perf_counter()
    with db.engine.begin() as conn:
        rows = conn.execute(FLOOR_SQL, {"alert_date": local_date("UTC", now), "now": now,
                                        "timezone": "UTC"}).rowcount
    return time.perf_counter() - started, rows


def time_cycle():
    """The monitor's cycle as the thread runs it: raise_alerts() and its commit."""
    started = time.perf_counter()
    new = run_cycle()
    elapsed = time.perf_counter() - started
    db.session.remove()
    if new is None:
        raise RuntimeError("run_cycle() skipped: another process holds the scan lock")
    return elapsed, len(new)


def traced_cycle():
    """(new alerts, tracemalloc peak in bytes) of one cycle."""
    tracemalloc.start()
    try:
        new = run_cycle()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        db.session.remove()
    return len(new or []), peak


def warm_up():
    """Connect, and read the products once, so that neither measurement pays for a cold cache."""
    with db.engine.connect() as conn:
        conn.execute(text("SELECT count(*), sum(stock) FROM products")).one()
    db.session.execute(text("SELECT 1"))
    db.session.remove()


def measure_timings(label, rounds):
    """Floor, floor+ and cycle, first and repeat, `rounds` times (alternating the order)."""
    first, repeat = Timing(label, "first"), Timing(label, "repeat")

    def floor():
        for timing in (first, repeat):
            seconds, rows = time_floor()
            timing.floor_seconds.append(seconds)
            timing.floor_rows.append(rows)
        reset()

    def full_floor():
        for timing in (first, repeat):
            timing.full_seconds.append(time_full_floor())
            timing.full_writes = written()
        reset()

    def cycle():
        for timing in (first, repeat):
            seconds, created = time_cycle()
            timing.cycle_seconds.append(seconds)
            timing.new_alerts.append(created)
            timing.cycle_writes = written()
        reset()

    warm_up()
    for round_no in range(rounds):
        steps = (floor, full_floor, cycle)
        for step in (steps if round_no % 2 == 0 else reversed(steps)):
            step()
    return [first, repeat]


def measure_memory(label, shape):
    first_new, first_peak = traced_cycle()
    repeat_new, repeat_peak = traced_cycle()
    reset()
    return MemoryPeak(label, shape, first_new, first_peak, repeat_new, repeat_peak)


def run_database(databases, shape, memory_shapes, rounds, out):
    """Every measurement on one kind of database; returns (timings, memory peaks)."""
    timings, peaks = [], []
    for use in [shape, *[s for s in memory_shapes if s != shape]]:
        app = create_app(bench_config(databases.new()))
        with app.app_context():
            started = time.perf_counter()
            load(use)
            out(f"  {databases.name}: loaded {use} in {time.perf_counter() - started:.1f}s")
            if use == shape:
                timings = measure_timings(databases.name, rounds)
            else:  # compile caches warm, as they are for the timed shape, so only the cycle is traced
                time_cycle()
                time_cycle()
                reset()
            if use in memory_shapes:
                peaks.append(measure_memory(databases.name, use))
            db.session.remove()
            db.engine.dispose()
    return timings, peaks


# --- the command -----------------------------------------------------------------------------

def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--shops", type=int, help="shops (default 1,000; 50 with --quick)")
    parser.add_argument("--products", type=int, help="products per shop (default 1,000; 200 with --quick)")
    parser.add_argument("--low-every", type=int, default=20,
                        help="every n-th product of a shop is low (default 20, i.e. 5%%)")
    parser.add_argument("--rounds", type=int, help="timed rounds, the best is shown (default 5; 1 with --quick)")
    parser.add_argument("--quick", action="store_true", help="a small run: 50 shops x 200 products, one round")
    parser.add_argument("--no-memory", action="store_true", help="skip the tracemalloc runs")
    args = parser.parse_args(argv)
    args.shops = args.shops or (50 if args.quick else 1000)
    args.products = args.products or (200 if args.quick else 1000)
    args.rounds = args.rounds or (1 if args.quick else 5)
    return args


def memory_shapes_for(shape):
    """A tenth of the products with the same share low; the same products with a tenth as many
    low (as many alerts as the first); and the full shape: what grows with what."""
    return [
        Shape(shape.shops, max(1, shape.products // 10), shape.low_every),
        Shape(shape.shops, shape.products, shape.low_every * 10),
        shape,
    ]


def report(timings, peaks, out):
    out("")
    out(f"{'database':<10} {'phase':<7} {'cycle s':>8} {'floor s':>8} {'ratio':>7} {'floor+ s':>9} "
        f"{'ratio+':>7} {'new alerts':>11} {'floor rows':>11}   every round: cycle / floor / floor+ s")
    for t in timings:
        out(f"{t.database:<10} {t.phase:<7} {t.cycle:>8.3f} {t.floor:>8.3f} {t.ratio:>6.2f}x {t.full:>9.3f} "
            f"{t.full_ratio:>6.2f}x {t.new_alerts[0]:>11,} {t.floor_rows[0]:>11,}   "
            + "  ".join(f"{c:.3f}/{f:.3f}/{g:.3f}"
                        for c, f, g in zip(t.cycle_seconds, t.floor_seconds, t.full_seconds)))
        if t.cycle_writes != t.full_writes:
            out(f"  ! {t.database} {t.phase}: the cycle wrote {t.cycle_writes}, floor+ {t.full_writes}")
    out("floor: one INSERT ... SELECT ... ON CONFLICT DO NOTHING (the log rows only); floor+: the same "
        "rows as the cycle (log, notifications, episodes, resolved episodes), hand-written; best of each.")
    if peaks:
        out("")
        out("peak Python memory of one cycle (tracemalloc)")
        out(f"{'database':<10} {'products':>10} {'low':>8} {'first: new':>11} {'peak MiB':>9} "
            f"{'repeat: new':>12} {'peak MiB':>9}")
        for p in sorted(peaks, key=lambda p: (p.database != "sqlite", p.shape.products, p.shape.expected_alerts)):
            out(f"{p.database:<10} {p.shape.shops * p.shape.products:>10,} {p.shape.expected_alerts:>8,} "
                f"{p.first_new:>11,} {p.first_peak / 2**20:>9.2f} {p.repeat_new:>12,} {p.repeat_peak / 2**20:>9.2f}")


def main(argv=None, out=print):
    """Run the bench; returns {"shape", "timings", "peaks"} for the caller (and the smoke test)."""
    args = parse_args(argv)
    shape = Shape(args.shops, args.products, args.low_every)
    memory_shapes = [] if args.no_memory else memory_shapes_for(shape)
    kinds = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    out(f"monitor scan bench: {shape}, {args.rounds} round(s), Python {platform.python_version()}")
    if "postgres" in kinds and not find_bindir():
        if args.db == "postgres":
            raise SystemExit("PostgreSQL server binaries (initdb, pg_ctl) not found; set PG_BINDIR")
        out("  PostgreSQL server binaries not found (set PG_BINDIR): PostgreSQL skipped")
        kinds.remove("postgres")
    timings, peaks = [], []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="stockbell-bench-") as workdir:
        for kind in kinds:
            databases = SqliteDatabases(workdir) if kind == "sqlite" else PostgresDatabases()
            try:
                out(f"  {databases.version()}")
                t, p = run_database(databases, shape, memory_shapes, args.rounds, out)
            finally:
                databases.close()
            timings += t
            peaks += p
    report(timings, peaks, out)
    out(f"\ntarget: cycle within 1.5x the floor; total bench time {time.perf_counter() - started:.0f}s")
    return {"shape": shape, "timings": timings, "peaks": peaks}


if __name__ == "__main__":
    main()
