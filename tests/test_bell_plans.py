"""The bell's statements, as the routes run them, read through EXPLAIN on SQLite and PostgreSQL:
the list walks the index (user_id, id) newest first with no sort, the unread count reads its
index (user_id, is_read, id), and neither reads the whole table."""
from sqlalchemy import event, insert, text

from modules.extensions import db
from modules.notifications.models import Notification
from modules.timeutil import utcnow


def fill(shop, other_shop, n=3000):
    """Notifications of two users, and fresh statistics: one in twenty of them the shop owner's
    (so that walking the primary key and skipping the others' rows is not the cheaper plan), a
    third of those unread (so that the count has an index of its own to prefer)."""
    now = utcnow()
    rows = []
    for i in range(n):
        owner = shop if i % 20 == 0 else other_shop
        rows.append({"client_id": owner.client["id"], "user_id": owner.user["id"], "type": "alert", "kind": "low",
                     "level": "low", "message": f"Item {i}", "is_read": i % 60 != 0, "created_at": now})
    db.session.execute(insert(Notification), rows)
    db.session.commit()
    db.session.execute(text("ANALYZE"))
    db.session.commit()


def ran(call, table="notifications"):
    """The (statement, parameters) that `call` ran against `table`."""
    seen = []

    def record(conn, cursor, statement, parameters, *args):
        if f"FROM {table}" in statement:
            seen.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        call()
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    return seen


def plan(statement, parameters):
    """The plan's text: SQLite's EXPLAIN QUERY PLAN, PostgreSQL's EXPLAIN with sequential and
    bitmap scans priced out (on a table this small, reading a user's 150 rows and sorting them is
    cheaper; the question is whether an index serves the order)."""
    with db.engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            rows = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
            return "\n".join(row[-1] for row in rows)
        connection.exec_driver_sql("SET enable_seqscan = off; SET enable_bitmapscan = off")
        rows = connection.exec_driver_sql("EXPLAIN " + statement, parameters).all()
        return "\n".join(row[0] for row in rows)


def test_the_list_walks_the_user_id_index_with_no_sort(shop, other_shop):
    fill(shop, other_shop)
    statements = ran(lambda: shop.get("/api/notifications?limit=20"))
    listed = [s for s in statements if "ORDER BY" in s[0]]
    assert len(listed) == 1, statements
    text_of_plan = plan(*listed[0])
    assert "ix_notifications_user_id" in text_of_plan, text_of_plan
    assert "TEMP B-TREE" not in text_of_plan and "Sort" not in text_of_plan, text_of_plan
    assert "SCAN notifications\n" not in text_of_plan + "\n" and "Seq Scan" not in text_of_plan, text_of_plan


def test_the_next_page_and_the_unread_list_use_an_index_with_no_sort(shop, other_shop):
    """(PostgreSQL may walk the primary key down from `before_id` instead: ordered too.)"""
    fill(shop, other_shop)
    for url in ("/api/notifications?limit=20&before_id=1500", "/api/notifications?unread=1&limit=20"):
        listed = [s for s in ran(lambda: shop.get(url)) if "ORDER BY" in s[0]]
        text_of_plan = plan(*listed[0])
        assert "ix_notifications_user" in text_of_plan or "pk_notifications" in text_of_plan, (url, text_of_plan)
        assert "TEMP B-TREE" not in text_of_plan and "Sort" not in text_of_plan, (url, text_of_plan)


def test_the_unread_count_reads_its_index_and_no_more(shop, other_shop):
    fill(shop, other_shop)
    counted = ran(lambda: shop.get("/api/notifications/unread-count"))
    assert len(counted) == 1, counted
    text_of_plan = plan(*counted[0])
    assert "ix_notifications_user_unread" in text_of_plan, text_of_plan
    assert "Seq Scan" not in text_of_plan and "SCAN n\n" not in text_of_plan + "\n", text_of_plan
