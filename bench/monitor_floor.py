"""The monitor_scan bench's floor and floor+: the hand-written SQL the cycle is measured against,
and the timed runs of it (with the row counts that show floor+ wrote what the cycle writes).
"""
import time

from flask import current_app
from sqlalchemy import Date, DateTime, bindparam, text

from bench.monitor_data import WRITTEN_BY_CYCLE
from modules.extensions import db
from modules.auth.models import DEFAULT_THRESHOLD
from modules.delivery.outbox import waits
from modules.timeutil import isoformat, local_date, utcnow

# The effective threshold and the products that may alert, as the app's scan has them
# (modules/retail/rules.py): the product's threshold, else its category's, else the shop's, else
# the default; active, not muted, not snoozed, in a shop with alerts on.
THRESHOLD_SQL = (f"COALESCE(ps.low_stock_threshold, p.low_stock_threshold, cat.low_stock_threshold, "
                 f"s.low_stock_threshold, {DEFAULT_THRESHOLD})")

# CROSS JOIN: SQLite's way to fix the join order (one pass over products), since without it
# SQLite may walk clients and then each shop's products through an index, a slower floor than
# the app's own scan. PostgreSQL plans it as the plain join it is.
FLOOR_SQL = text(f"""
INSERT INTO stock_alert_log (client_id, product_id, location_id, kind, alert_date, stock_level, threshold_level,
                             created_at)
SELECT ps.client_id, ps.product_id, ps.location_id, CASE WHEN ps.stock <= 0 THEN 'out' ELSE 'low' END, :alert_date,
       ps.stock, {THRESHOLD_SQL}, :now
FROM product_stock AS ps
CROSS JOIN clients AS c
JOIN products AS p ON p.id = ps.product_id
JOIN locations AS loc ON loc.id = ps.location_id AND loc.active
LEFT JOIN notification_settings AS s ON s.client_id = ps.client_id
LEFT JOIN categories AS cat ON cat.id = p.category_id
WHERE c.id = ps.client_id AND p.active AND COALESCE(s.low_stock_enabled, TRUE) AND c.timezone = :timezone
  AND NOT p.muted AND (p.snoozed_until IS NULL OR p.snoozed_until <= :now)
  AND ps.stock <= {THRESHOLD_SQL}
ON CONFLICT (client_id, product_id, location_id, kind, alert_date) DO NOTHING
""").bindparams(bindparam("alert_date", type_=Date), bindparam("now", type_=DateTime))


# floor+: what the cycle writes, by hand and without its safeguards: the log rows, their transfer
# suggestions (suggestions_sql, below), then one
# statement each for the notifications, the episodes and the outbox rows of the rows this
# transaction logged (picked by their created_at, a shortcut the app cannot take: it goes by the
# ids RETURNING gave it, in chunks), then the restocked episodes resolved. A lower bound for the
# whole cycle.
LEVEL_SQL = "CASE WHEN l.stock_level <= 0 THEN 'out' ELSE 'low' END"
# What a message says of its place, as the app's (retail/locations.py, sql_place): " at <name>" in a shop
# with two or more active locations (`loc` joined on the log's location_id), else nothing.
PLACE_SQL = ("CASE WHEN (SELECT count(*) FROM locations AS al WHERE al.client_id = l.client_id AND al.active) >= 2 "
             "THEN ' at ' || loc.name ELSE '' END")
FULL_FLOOR_SQL = [
    FLOOR_SQL,
    text(f"""
INSERT INTO notifications (client_id, user_id, type, kind, level, message, action_url, is_read, created_at,
                           alert_log_id, product_id, location_id)
SELECT l.client_id, u.id, 'alert', l.kind, {LEVEL_SQL},
       CASE WHEN l.stock_level <= 0
            THEN 'Out of Stock: ' || p.name || ' (' || COALESCE(cat.name, 'Uncategorized') || ')'
            ELSE 'Low Stock Alert: ' || p.name || ' - Only ' || CAST(l.stock_level AS VARCHAR)
                 || ' remaining (' || COALESCE(cat.name, 'Uncategorized') || ')' END || {PLACE_SQL},
       '/retail/products?stock=' || {LEVEL_SQL}, FALSE, :now, l.id, p.id, l.location_id
FROM stock_alert_log AS l
JOIN products AS p ON p.id = l.product_id
JOIN locations AS loc ON loc.id = l.location_id
LEFT JOIN categories AS cat ON cat.id = p.category_id
JOIN users AS u ON u.client_id = l.client_id AND u.active
WHERE l.alert_date = :alert_date AND l.kind IN ('low', 'out') AND l.created_at = :now
""").bindparams(bindparam("alert_date", type_=Date), bindparam("now", type_=DateTime)),
    text(f"""
INSERT INTO stock_alerts (client_id, product_id, location_id, level, stock_at_alert, threshold, opened_at,
                          last_notified_at)
SELECT l.client_id, l.product_id, l.location_id, {LEVEL_SQL}, l.stock_level, l.threshold_level, :now, :now
FROM stock_alert_log AS l
WHERE l.alert_date = :alert_date AND l.kind IN ('low', 'out') AND l.created_at = :now
ON CONFLICT (product_id, location_id) WHERE resolved_at IS NULL DO UPDATE SET level = excluded.level,
    stock_at_alert = excluded.stock_at_alert, threshold = excluded.threshold,
    last_notified_at = excluded.last_notified_at
""").bindparams(bindparam("alert_date", type_=Date), bindparam("now", type_=DateTime)),
    text(f"""
UPDATE stock_alerts SET resolved_at = :now
WHERE resolved_at IS NULL AND EXISTS (
    SELECT 1 FROM product_stock AS ps JOIN products AS p ON p.id = ps.product_id
    LEFT JOIN notification_settings AS s ON s.client_id = ps.client_id
    LEFT JOIN categories AS cat ON cat.id = p.category_id
    WHERE ps.product_id = stock_alerts.product_id AND ps.location_id = stock_alerts.location_id
      AND NOT (p.active AND ps.stock <= {THRESHOLD_SQL}))
""").bindparams(bindparam("now", type_=DateTime)),
]


# The outbox rows: one per new alert and address on the shop's list (the bench's recipients are
# all on the shops' lists, instant, every kind: no person, preference or mode to look at), with
# the payload and subject the app writes (modules/delivery/messages.py). Low alerts wait for the
# burst (DELIVERY_COALESCE_SECONDS; the bench's channels all gather), out ones are due at once.
def deliveries_sql(dialect):
    obj, arr = ("json_build_object", "json_build_array") if dialect == "postgresql" else ("json_object", "json_array")
    suggestion = "l.suggestion" if dialect == "postgresql" else "json(l.suggestion)"  # JSON, not a string in it
    return text(f"""
INSERT INTO deliveries (client_id, alert_log_id, dedupe_key, channel, recipient, subject, body, html_body, payload,
                        status, attempts, next_attempt_at, created_at)
SELECT l.client_id, l.id, 'alert:' || CAST(l.id AS VARCHAR(16)), r.channel, r.address,
       substr(CASE WHEN l.kind = 'out' THEN 'Out of stock' ELSE 'Low stock' END || ': ' || p.name || ' at ' || c.name,
              1, 255),
       '', NULL,
       {obj}('type', 'alerts', 'shop', {obj}('id', c.id, 'name', c.name, 'timezone', c.timezone),
             'items', {arr}({obj}('product', p.name, 'category', cat.name, 'stock', l.stock_level,
                                  'threshold', l.threshold_level, 'kind', l.kind, 'days_left', l.days_left,
                                  'product_id', p.id, 'sku', p.sku, 'detail', NULL, 'place', {PLACE_SQL},
                                  'location', {obj}('id', loc.id, 'name', loc.name),
                                  'suggestion', {suggestion})),
             'created_at', CAST(:created_at AS VARCHAR(40)), 'log_id', l.id),
       'pending', 0, CASE WHEN l.kind = 'out' THEN :now ELSE :coalesced END, :now
FROM stock_alert_log AS l
JOIN products AS p ON p.id = l.product_id
LEFT JOIN categories AS cat ON cat.id = p.category_id
JOIN clients AS c ON c.id = l.client_id
JOIN locations AS loc ON loc.id = l.location_id
JOIN recipients AS r ON r.client_id = l.client_id AND r.user_id IS NULL AND r.enabled AND r.opted_out_at IS NULL
WHERE l.alert_date = :alert_date AND l.kind IN ('low', 'out') AND l.created_at = :now
ON CONFLICT (dedupe_key, channel, recipient) DO NOTHING
""").bindparams(bindparam("alert_date", type_=Date), bindparam("now", type_=DateTime),
                bindparam("coalesced", type_=DateTime))


# The transfer suggestion on today's new low and out rows of shops with two or more active
# locations (as the cycle's _suggest): the other active location with the most spare stock above
# its own threshold, the lowest id among equals; none when no other location can spare any.
def suggestions_sql(dialect):
    obj = "json_build_object" if dialect == "postgresql" else "json_object"
    return text(f"""
UPDATE stock_alert_log SET suggestion = (
    SELECT {obj}('from_location', {obj}('id', loc.id, 'name', loc.name), 'spare', ps.stock - {THRESHOLD_SQL})
    FROM product_stock AS ps
    JOIN products AS p ON p.id = ps.product_id
    JOIN locations AS loc ON loc.id = ps.location_id AND loc.active
    LEFT JOIN notification_settings AS s ON s.client_id = ps.client_id
    LEFT JOIN categories AS cat ON cat.id = p.category_id
    WHERE ps.product_id = stock_alert_log.product_id AND ps.location_id <> stock_alert_log.location_id
      AND ps.stock - {THRESHOLD_SQL} > 0
    ORDER BY ps.stock - {THRESHOLD_SQL} DESC, loc.id LIMIT 1)
WHERE alert_date = :alert_date AND kind IN ('low', 'out') AND created_at = :now
  AND (SELECT count(*) FROM locations AS al WHERE al.client_id = stock_alert_log.client_id AND al.active) >= 2
""").bindparams(bindparam("alert_date", type_=Date), bindparam("now", type_=DateTime))


def written():
    """Rows per table the cycle writes, to check that floor+ did the same work."""
    with db.engine.connect() as conn:
        return {table: conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
                for table in WRITTEN_BY_CYCLE}


def time_full_floor():
    """floor+, committed as one transaction like the cycle."""
    now = utcnow()
    params = {"alert_date": local_date("UTC", now), "now": now, "timezone": "UTC", "created_at": isoformat(now),
              "coalesced": now + waits(current_app.config)["important"]}
    dialect = db.engine.dialect.name
    statements = [FULL_FLOOR_SQL[0], suggestions_sql(dialect), *FULL_FLOOR_SQL[1:3], deliveries_sql(dialect),
                  *FULL_FLOOR_SQL[3:]]
    started = time.perf_counter()
    with db.engine.begin() as conn:
        for stmt in statements:
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
