"""Migration 0013 on a database that already holds stock, movements, alerts, episodes and an order
(SQLite and PostgreSQL): every shop gets `Main`, all its stock moves there and everything that
happened is at Main; the log's key gains the place; the downgrade keeps every product's stock."""

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from modules import create_app
from modules.extensions import db
from tests.support.app import base_config

T = "'2026-11-01 08:00:00'"


def rows(sql):
    return [tuple(r) for r in db.session.execute(text(sql)).all()]


def test_stock_and_history_move_to_main_and_back(empty_database):
    app = create_app(base_config(empty_database))
    with app.app_context():
        upgrade(revision="0012")
        for statement in (
            f"INSERT INTO clients (id, name, timezone, allow_negative_stock, created_at) VALUES (1, 'A', 'UTC', false, {T}),"
            f" (2, 'B', 'UTC', false, {T})",
            f"INSERT INTO users (id, client_id, email, password_hash, role, active, created_at) VALUES "
            f"(1, 1, 'a@example.com', 'x', 'owner', true, {T})",
            "INSERT INTO products (id, client_id, name, stock, active, pack_size, created_at, updated_at) VALUES "
            f"(1, 1, 'Milk', 2, true, 1, {T}, {T}), (2, 1, 'Tea', 40, true, 1, {T}, {T}), (3, 2, 'Jam', 7, true, 1, {T}, {T})",
            "INSERT INTO stock_movements (client_id, product_id, delta, stock_after, reason, source, created_at) VALUES "
            f"(1, 1, -3, 2, 'sale', 'app', {T}), (2, 3, 7, 7, 'initial', 'app', {T})",
            "INSERT INTO stock_alert_log (id, client_id, product_id, kind, alert_date, stock_level, threshold_level, "
            f"created_at) VALUES (1, 1, 1, 'low', '2026-11-01', 2, 5, {T})",
            "INSERT INTO notifications (client_id, user_id, type, kind, level, message, is_read, created_at, alert_log_id,"
            " product_id) VALUES (1, 1, 'alert', 'low', 'low', 'Low Stock Alert: Milk - Only 2 remaining (Uncategorized)',"
            f" false, {T}, 1, 1)",
            "INSERT INTO stock_alerts (client_id, product_id, level, stock_at_alert, threshold, opened_at) VALUES "
            f"(1, 1, 'low', 2, 5, {T})",
        ):
            db.session.execute(text(statement))
        db.session.commit()
        upgrade()
        assert rows("SELECT client_id, name, is_default, active FROM locations ORDER BY client_id") == [
            (1, "Main", True, True), (2, "Main", True, True)]
        main = dict(rows("SELECT client_id, id FROM locations"))
        assert rows("SELECT product_id, location_id, stock FROM product_stock ORDER BY product_id") == [
            (1, main[1], 2), (2, main[1], 40), (3, main[2], 7)]
        assert rows("SELECT product_id, location_id FROM stock_movements ORDER BY product_id") == [
            (1, main[1]), (3, main[2])]
        assert rows("SELECT location_id FROM stock_alert_log") == [(main[1],)]
        assert rows("SELECT location_id FROM stock_alerts") == [(main[1],)]
        # The same product, kind and day at another place: allowed; at Main again: refused.
        db.session.execute(text(f"INSERT INTO locations (id, client_id, name, kind, is_default, active, created_at) "
                                f"VALUES (99, 1, 'Uptown', 'store', false, true, {T})"))
        db.session.execute(text("INSERT INTO stock_alert_log (id, client_id, product_id, location_id, kind, alert_date, "
                                f"stock_level, threshold_level, created_at) VALUES (2, 1, 1, 99, 'low', '2026-11-01', 1, 5, {T})"))
        db.session.commit()
        with pytest.raises(IntegrityError):
            db.session.execute(text("INSERT INTO stock_alert_log (id, client_id, product_id, location_id, kind, alert_date, "
                                    f"stock_level, threshold_level, created_at) VALUES (3, 1, 1, {main[1]}, 'low', "
                                    f"'2026-11-01', 1, 5, {T})"))
            db.session.commit()
        db.session.rollback()
        # A second default for a shop: refused by the database.
        with pytest.raises(IntegrityError):
            db.session.execute(text("UPDATE locations SET is_default = true WHERE id = 99"))
            db.session.commit()
        db.session.rollback()
        db.session.remove()
        downgrade(revision="0012")
        assert "locations" not in inspect(db.engine).get_table_names()
        assert rows("SELECT id, stock FROM products ORDER BY id") == [(1, 2), (2, 40), (3, 7)]
        # One log row per product, kind and day again: the first stays, with its notification.
        assert rows("SELECT id FROM stock_alert_log") == [(1,)]
        assert rows("SELECT alert_log_id FROM notifications") == [(1,)]
        db.session.commit()  # PostgreSQL: no open read may hold a lock the upgrade's ALTERs wait for
        upgrade()
        assert rows("SELECT product_id, stock FROM product_stock ORDER BY product_id") == [(1, 2), (2, 40), (3, 7)]
        db.session.remove()
        db.engine.dispose()
