"""The bench shops' sales, bulk-loaded: sale movements at evenly spaced instants, their daily
rollup (sales_daily), and what each sale writes beside the stock (the newest day's units), as the
app's own writers would have left them. monitor_data.load() calls load_sales()."""
from datetime import timedelta

from sqlalchemy import Date, DateTime, bindparam, text

from modules.timeutil import utcnow

SALES_SPAN = timedelta(days=26)  # inside a 28-day window even when a run crosses shop-local midnight
FAST_SALES_PER_STOCK = 10  # a fast seller sold ten times its stock in the window: 28 // 10 = 2 days left


def _movement_indexes(conn):
    """(name, CREATE INDEX statement) of stock_movements' secondary indexes, as the migrations made them."""
    if conn.dialect.name == "postgresql":
        return conn.execute(text("""
            SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index AS i
            WHERE i.indrelid = 'stock_movements'::regclass AND NOT i.indisprimary
              AND NOT EXISTS (SELECT 1 FROM pg_constraint AS c WHERE c.conindid = i.indexrelid)""")).all()
    return conn.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'index' "
                             "AND tbl_name = 'stock_movements' AND sql IS NOT NULL")).all()


def load_sales(conn, shape):
    """`shape.movements` sale movements per product, at evenly spaced instants over the last
    SALES_SPAN, one INSERT ... SELECT over products per instant (so the table is in time order,
    as a live one is), and their daily rollup. A product sells `shape.units_sold(k)` units in all,
    split into near-equal movements: delta_j = -((units + j) / movements) for j = 0..movements-1 adds up to exactly units.

    A bulk load's usual way: the secondary indexes are dropped and built again afterwards, and on
    PostgreSQL the foreign-key triggers are off for this transaction (every id is valid by construction)."""
    m, per_shop, n = shape.movements, shape.products, shape.locations
    k = f"((p.id - 1) % {per_shop})"
    # The sales are at Main: with one location its stock is the product's, else its place's.
    stock, q, at_main = "p.stock", k, ""
    if n > 1:
        stock, q = "ps.stock", f"({k} * {n})"
        at_main = " JOIN product_stock AS ps ON ps.product_id = p.id AND ps.location_id = p.client_id"
    units = (f"CASE WHEN {k} % {shape.fast_every} = {1 % shape.fast_every} AND {q} % {shape.low_every} <> 0 "
             f"THEN {FAST_SALES_PER_STOCK} * {stock} ELSE {m} END")
    indexes = _movement_indexes(conn)
    if conn.dialect.name == "postgresql":
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(text("SET LOCAL maintenance_work_mem = '1GB'"))
    for name, _ in indexes:
        conn.execute(text(f"DROP INDEX {name}"))
    newest = utcnow() - timedelta(minutes=1)
    instants = [newest - SALES_SPAN * (m - 1 - j) / max(m - 1, 1) for j in range(m)]
    for j, at in enumerate(instants):
        conn.execute(text(f"""
            INSERT INTO stock_movements (client_id, product_id, location_id, delta, stock_after, reason, user_id,
                                         created_at)
            SELECT p.client_id, p.id, p.client_id, -(({units} + {j}) / {m}), {stock} + ({m - 1 - j} * ({units})) / {m},
                   'sale', NULL, :at
            FROM products AS p{at_main}""").bindparams(bindparam("at", at, type_=DateTime)))
    load_rollup(conn, shape, instants, units, at_main)
    for _, create in indexes:
        conn.execute(text(create))
    if conn.dialect.name == "postgresql":
        conn.execute(text("SET LOCAL session_replication_role = DEFAULT"))


def load_rollup(conn, shape, instants, units, at_main=""):
    """The daily rollup the app writes with each sale (sales_daily), worked out from the same
    arithmetic as the movements rather than grouped from them (sorting 30M rows took SQLite longer
    than the whole load): one INSERT ... SELECT over products per day, oldest first, as a live
    table grows. Every bench shop is in UTC, so a movement's shop-local date is its UTC date; a
    movement of delta 0 is no sale, and a day of only those has no row."""
    m = shape.movements
    days = {}
    for j, at in enumerate(instants):
        days.setdefault(at.date(), []).append(j)
    conn.execute(text("DROP INDEX ix_sales_daily_client_date"))  # built once, after the rows
    for day, js in sorted(days.items()):
        sold = " + ".join(f"(({units} + {j}) / {m})" for j in js)
        conn.execute(text(f"""
            INSERT INTO sales_daily (client_id, product_id, location_id, sale_date, units)
            SELECT p.client_id, p.id, p.client_id, :day, {sold} FROM products AS p{at_main}
            WHERE {sold} > 0""").bindparams(bindparam("day", day, type_=Date)))
    conn.execute(text("CREATE INDEX ix_sales_daily_client_date ON sales_daily "
                      "(client_id, sale_date, product_id, location_id, units)"))
    # What each sale also wrote beside the stock (retail.windows.bump): the units of the newest day.
    newest = bindparam("newest", max(days) if days else None, type_=Date)
    for table, match in (("product_stock", "d.product_id = t.product_id AND d.location_id = t.location_id"),
                         ("products", "d.product_id = t.id")):
        conn.execute(text(f"""
            UPDATE {table} SET sold_on = :newest, sold_today = (
                SELECT SUM(d.units) FROM sales_daily AS d WHERE {match} AND d.sale_date = :newest)
            WHERE EXISTS (SELECT 1 FROM sales_daily AS d WHERE {match} AND d.sale_date = :newest)
            """.replace(" t.", f" {table}.")).bindparams(newest))
