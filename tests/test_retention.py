"""Keeping data (API.md): the worker removes read notifications older than
NOTIFICATION_RETENTION_DAYS and empties the bodies of finished deliveries older than
DELIVERY_RETENTION_DAYS, in small batches each in its own transaction; unread and recent
notifications, pending deliveries, delivery rows and statuses, the alert log, movements and the
audit log stay. The clock is moved by passing `now`."""
from datetime import timedelta

import pytest
from sqlalchemy import event, func, insert, null, select, text

from modules.alerts.models import StockAlertLog
from modules.auth.models import AuditEntry
from modules.delivery import retention
from modules.delivery.dispatcher import Dispatcher
from modules.delivery.models import Delivery
from modules.extensions import db
from modules.notifications import service as bell
from modules.notifications.models import Notification
from modules.retail.models import StockMovement
from modules.timeutil import utcnow

DAY = timedelta(days=1)


def notifications(shop, n, created_at, is_read):
    db.session.execute(insert(Notification), [
        {"client_id": shop.client["id"], "user_id": shop.user["id"], "type": "alert", "kind": "low", "level": "low",
         "message": f"{'read' if is_read else 'unread'} {created_at:%Y-%m-%d} {i}", "is_read": is_read,
         "created_at": created_at} for i in range(n)])
    db.session.commit()


def deliveries(shop, created_at, statuses):
    db.session.execute(insert(Delivery), [
        {"client_id": shop.client["id"], "dedupe_key": f"test:{created_at:%Y%m%d}:{status}", "channel": "email",
         "recipient": "owner@example.com", "subject": "Low stock", "body": "", "html_body": None,
         "payload": {"type": "test", "items": [status]}, "status": status, "attempts": 1,
         "next_attempt_at": created_at, "created_at": created_at} for status in statuses])
    db.session.commit()


def messages():
    return sorted(db.session.scalars(select(Notification.message)).all())


def count(model):
    return db.session.scalar(select(func.count()).select_from(model))


def test_read_notifications_past_retention_go_unread_and_recent_stay(app, shop):
    start = utcnow()
    notifications(shop, 2, start, is_read=True)
    notifications(shop, 1, start, is_read=False)
    notifications(shop, 1, start + 80 * DAY, is_read=True)
    assert retention.prune(start + 89 * DAY) == {"notifications": 0, "deliveries": 0}
    assert len(messages()) == 4
    assert retention.prune(start + 91 * DAY)["notifications"] == 2
    assert messages() == [f"read {start + 80 * DAY:%Y-%m-%d} 0", f"unread {start:%Y-%m-%d} 0"]


def test_old_finished_delivery_bodies_are_emptied_and_the_rows_kept(app, shop):
    start = utcnow()
    finished, waiting = ["sent", "delivered", "undelivered", "dead"], ["pending", "failed", "sending"]
    deliveries(shop, start, finished + waiting)
    deliveries(shop, start + 20 * DAY, ["sent"])
    assert retention.prune(start + 29 * DAY)["deliveries"] == 0
    assert retention.prune(start + 31 * DAY)["deliveries"] == 4
    rows = {(row.status, row.created_at): row for row in db.session.scalars(select(Delivery)).all()}
    assert len(rows) == 8  # every row kept, with its status
    for status in finished:
        row = rows[(status, start)]
        assert row.payload is None and row.body == "" and row.html_body is None
        assert row.subject == "Low stock" and row.attempts == 1
    for status in waiting:
        assert rows[(status, start)].payload == {"type": "test", "items": [status]}
    assert rows[("sent", start + 20 * DAY)].payload == {"type": "test", "items": ["sent"]}
    assert db.session.scalar(select(func.count()).where(Delivery.payload.is_(None))) == 4  # SQL NULL


def test_deliveries_page_still_lists_an_emptied_delivery(app, shop):
    start = utcnow()
    deliveries(shop, start, ["sent"])
    retention.prune(start + 31 * DAY)
    items = shop.get("/api/notifications/deliveries").get_json()["items"]
    assert [(item["status"], item["channel"]) for item in items] == [("sent", "email")]


def test_pruning_goes_in_batches_each_committed_on_its_own(app, shop):
    start = utcnow()
    notifications(shop, 1200, start, is_read=True)
    seen = []

    def statement(conn, cursor, sql, *args):
        if sql.startswith("DELETE"):
            seen.append("delete")

    def commit(conn):
        seen.append("commit")

    event.listen(db.engine, "before_cursor_execute", statement)
    event.listen(db.engine, "commit", commit)
    try:
        assert bell.prune_read(start + DAY, batch=500, max_batches=2) == 1000  # the rest waits
    finally:
        event.remove(db.engine, "before_cursor_execute", statement)
        event.remove(db.engine, "commit", commit)
    assert seen == ["delete", "commit", "delete", "commit"]
    assert count(Notification) == 200
    assert bell.prune_read(start + DAY, batch=500, max_batches=2) == 200
    assert count(Notification) == 0


def test_the_alert_log_movements_and_audit_log_are_kept(app, shop):
    product = shop.add_product("Oat Milk", stock=10)
    assert shop.post(f"/api/products/{product['id']}/stock", json={"delta": -8, "reason": "sale"}).status_code == 200
    assert shop.post("/api/notifications/settings", json={"low_stock_threshold": 3}).status_code == 200
    assert shop.post("/api/notifications/read-all").get_json() == {"updated": 1}
    kept = {model: count(model) for model in (StockAlertLog, StockMovement, AuditEntry)}
    assert all(kept.values()), kept
    assert retention.prune(utcnow() + 400 * DAY)["notifications"] == 1
    assert {model: count(model) for model in kept} == kept
    assert count(Notification) == 0


@pytest.mark.parametrize("app_config", [{"NOTIFICATION_RETENTION_DAYS": 0, "DELIVERY_RETENTION_DAYS": 0}])
def test_zero_days_keeps_everything(app, shop):
    start = utcnow()
    notifications(shop, 1, start, is_read=True)
    deliveries(shop, start, ["sent"])
    assert retention.prune(start + 4000 * DAY) == {"notifications": 0, "deliveries": 0}
    assert count(Notification) == 1 and db.session.scalar(select(Delivery.payload)) is not None


@pytest.mark.parametrize("app_config", [{"NOTIFICATION_RETENTION_DAYS": 7, "DELIVERY_RETENTION_DAYS": 3}])
def test_the_dispatchers_cycle_prunes_then_waits_for_its_next_pass(app, shop):
    start = utcnow()
    notifications(shop, 1, start, is_read=True)
    deliveries(shop, start, ["delivered"])
    worker = Dispatcher(app, poll_seconds=0.05)
    worker.cycle(now=start + 6 * DAY)
    assert count(Notification) == 1  # 6 days: kept for 7
    assert db.session.scalar(select(Delivery.payload)) is None  # past its 3 days: emptied
    notifications(shop, 1, start, is_read=True)
    worker.cycle(now=start + 8 * DAY)  # within PASS_SECONDS of the last pass: nothing yet
    assert count(Notification) == 2
    app.extensions["retention"]["next"] = 0.0  # as if PASS_SECONDS had gone by
    worker.cycle(now=start + 8 * DAY)
    assert count(Notification) == 0


def plan_of(statement, parameters):
    """SQLite's EXPLAIN QUERY PLAN, or PostgreSQL's EXPLAIN with sequential and bitmap scans priced
    out (the table is small: the question is whether the partial index serves the statement)."""
    with db.engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            return "\n".join(r[-1] for r in connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters))
        connection.exec_driver_sql("SET enable_seqscan = off; SET enable_bitmapscan = off")
        return "\n".join(r[0] for r in connection.exec_driver_sql("EXPLAIN " + statement, parameters))


def test_pruning_finds_its_rows_on_partial_indexes(app, shop):
    start = utcnow()
    notifications(shop, 50, start, is_read=True)
    deliveries(shop, start, ["sent", "pending"])
    for day in range(1, 100):  # what earlier passes emptied: out of the partial index
        deliveries(shop, start - day * DAY, ["sent", "delivered"])
    db.session.execute(db.update(Delivery).where(Delivery.created_at < start).values(payload=null()))
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("ANALYZE deliveries"))  # as autovacuum would; SQLite has no statistics
    db.session.commit()
    seen = []

    def record(conn, cursor, statement, parameters, *args):
        if statement.startswith(("DELETE", "UPDATE")):
            seen.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        retention.prune(start + 400 * DAY)
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    plans = [plan_of(*statement) for statement in seen]
    assert len(plans) == 2, seen
    assert "ix_notifications_read_created" in plans[0], plans[0]
    assert "ix_deliveries_body_kept" in plans[1], plans[1]
    assert not any("SCAN notifications" in p or "SCAN deliveries" in p or "Seq Scan" in p for p in plans), plans


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_failed_pass_is_logged_and_the_dispatchers_cycle_goes_on(app, shop, caplog):
    start = utcnow()
    deliveries(shop, start, ["sent"])
    db.session.execute(text("CREATE TRIGGER keep_bodies BEFORE UPDATE OF body ON deliveries "
                            "BEGIN SELECT RAISE(ABORT, 'bodies are kept here'); END"))
    db.session.commit()
    counts = Dispatcher(app, poll_seconds=0.05).cycle(now=start + 400 * DAY)
    assert counts is not None and counts["claimed"] == 0
    assert "retention pass failed" in caplog.text and "bodies are kept here" in caplog.text
    assert db.session.scalar(select(Delivery.payload)) is not None
