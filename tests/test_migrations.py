"""Migration 0003 on a database that already has alerts: every existing log row and notification
becomes kind "low", and the new key lets another kind alert the same product the same day."""
import json

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from modules import create_app
from modules.extensions import db
from tests.support.app import base_config

def test_existing_alerts_become_kind_low(empty_database):
    app = create_app(base_config(empty_database))
    with app.app_context():
        upgrade(revision="0002")
        for statement in (
            "INSERT INTO clients (id, name, timezone, allow_negative_stock, created_at) "
            "VALUES (1, 'Old Shop', 'UTC', false, '2026-11-01 08:00:00')",
            "INSERT INTO users (id, client_id, email, password_hash, role, active, created_at) "
            "VALUES (1, 1, 'o@example.com', 'x', 'owner', true, '2026-11-01 08:00:00')",
            "INSERT INTO products (id, client_id, name, stock, active, created_at, updated_at) "
            "VALUES (1, 1, 'Milk', 2, true, '2026-11-01 08:00:00', '2026-11-01 08:00:00')",
            "INSERT INTO stock_alert_log (id, client_id, product_id, alert_date, stock_level, threshold_level, "
            "created_at) VALUES (1, 1, 1, '2026-11-01', 2, 5, '2026-11-01 08:00:00')",
            "INSERT INTO notifications (client_id, user_id, type, level, message, is_read, created_at, alert_log_id) "
            "VALUES (1, 1, 'alert', 'low', 'Low Stock Alert: Milk - Only 2 remaining (Uncategorized)', false, "
            "'2026-11-01 08:00:00', 1)",
        ):
            db.session.execute(text(statement))
        db.session.commit()
        upgrade(revision="0012")  # the log's key before locations (0013 adds the place)
        assert db.session.execute(text("SELECT kind FROM stock_alert_log")).scalars().all() == ["low"]
        assert db.session.execute(text("SELECT kind, product_id FROM notifications")).all() == [("low", 1)]
        # Another kind, same product, same day: allowed. The same kind again: refused by the database.
        db.session.execute(text("INSERT INTO stock_alert_log (id, client_id, product_id, kind, alert_date, stock_level, "
                                "threshold_level, created_at) VALUES (2, 1, 1, 'restocked', '2026-11-01', 30, 5, "
                                "'2026-11-01 09:00:00')"))
        db.session.commit()
        with pytest.raises(IntegrityError):
            db.session.execute(text("INSERT INTO stock_alert_log (id, client_id, product_id, kind, alert_date, "
                                    "stock_level, threshold_level, created_at) VALUES (3, 1, 1, 'low', '2026-11-01', "
                                    "1, 5, '2026-11-01 10:00:00')"))
            db.session.commit()
        db.session.rollback()
        # Category names stay unique in any case after the upgrade (the expression index survived).
        db.session.execute(text("INSERT INTO categories (id, client_id, name) VALUES (1, 1, 'Dairy')"))
        db.session.commit()
        with pytest.raises(IntegrityError):
            db.session.execute(text("INSERT INTO categories (id, client_id, name) VALUES (2, 1, 'DAIRY')"))
            db.session.commit()
        db.session.rollback()
        downgrade(revision="0002")
        assert db.session.execute(text("SELECT count(*) FROM stock_alert_log")).scalar_one() == 1
        db.session.remove()
        db.engine.dispose()


def test_recipient_lists_become_rows_and_come_back_on_downgrade(empty_database):
    app = create_app(base_config(empty_database))
    with app.app_context():
        upgrade(revision="0003")
        for statement in (
            "INSERT INTO clients (id, name, timezone, allow_negative_stock, created_at) "
            "VALUES (1, 'Old Shop', 'UTC', false, '2026-11-01 08:00:00')",
            "INSERT INTO notification_settings (client_id, low_stock_enabled, low_stock_threshold, email_enabled, "
            "email_recipients, whatsapp_enabled, whatsapp_numbers, sms_enabled, sms_numbers, delivery_mode, "
            "digest_time, updated_at) VALUES (1, true, 5, true, '[\"a@old.example\", \"b@old.example\"]', false, "
            "'[\"+447911123456\"]', false, '[]', 'instant', '09:00', '2026-11-01 08:00:00')",
        ):
            db.session.execute(text(statement))
        db.session.commit()
        upgrade()
        rows = db.session.execute(text("SELECT client_id, user_id, channel, address, enabled FROM recipients "
                                       "ORDER BY id")).all()
        assert [tuple(r) for r in rows] == [(1, None, "email", "a@old.example", True),
                                            (1, None, "email", "b@old.example", True),
                                            (1, None, "whatsapp", "+447911123456", False)]
        db.session.commit()
        downgrade(revision="0003")
        email_on, emails, whatsapp_on, numbers = db.session.execute(text(
            "SELECT email_enabled, email_recipients, whatsapp_enabled, whatsapp_numbers FROM notification_settings"
        )).one()
        to_list = (lambda v: json.loads(v) if isinstance(v, str) else v)
        assert (bool(email_on), to_list(emails), bool(whatsapp_on), to_list(numbers)) == (
            True, ["a@old.example", "b@old.example"], False, ["+447911123456"])
        db.session.commit()
        upgrade()
        db.session.remove()
        db.engine.dispose()


def test_existing_movements_get_source_app_and_downgrade_keeps_them(empty_database):
    app = create_app(base_config(empty_database))
    with app.app_context():
        upgrade(revision="0003")
        for statement in (
            "INSERT INTO clients (id, name, timezone, allow_negative_stock, created_at) "
            "VALUES (1, 'Old Shop', 'UTC', false, '2026-11-01 08:00:00')",
            "INSERT INTO products (id, client_id, name, stock, active, created_at, updated_at) "
            "VALUES (1, 1, 'Milk', 2, true, '2026-11-01 08:00:00', '2026-11-01 08:00:00')",
            "INSERT INTO stock_movements (client_id, product_id, delta, stock_after, reason, created_at) "
            "VALUES (1, 1, 2, 2, 'initial', '2026-11-01 08:00:00')",
        ):
            db.session.execute(text(statement))
        db.session.commit()
        upgrade()
        assert db.session.execute(text("SELECT source FROM stock_movements")).scalars().all() == ["app"]
        db.session.rollback()  # end the read: PostgreSQL's DROP COLUMN waits for it otherwise
        downgrade(revision="0003")
        assert db.session.execute(text("SELECT count(*) FROM stock_movements")).scalar_one() == 1
        db.session.remove()
        db.engine.dispose()


def test_out_of_stock_alerts_become_kind_out_and_low_listeners_hear_out(empty_database):
    app = create_app(base_config(empty_database))
    with app.app_context():
        upgrade(revision="0008")
        for statement in (
            "INSERT INTO clients (id, name, timezone, allow_negative_stock, created_at) "
            "VALUES (1, 'Old Shop', 'UTC', false, '2026-11-01 08:00:00')",
            "INSERT INTO users (id, client_id, email, password_hash, role, active, created_at) "
            "VALUES (1, 1, 'o@example.com', 'x', 'owner', true, '2026-11-01 08:00:00'), "
            "(2, 1, 's@example.com', 'x', 'staff', true, '2026-11-01 08:00:00')",
            "INSERT INTO user_preferences (user_id, client_id, kinds, updated_at) VALUES "
            "(1, 1, ',low,forecast,', '2026-11-01 08:00:00'), (2, 1, ',restocked,', '2026-11-01 08:00:00')",
            "INSERT INTO products (id, client_id, name, stock, active, created_at, updated_at) "
            "VALUES (1, 1, 'Milk', 0, true, '2026-11-01 08:00:00', '2026-11-01 08:00:00'), "
            "(2, 1, 'Tea', 2, true, '2026-11-01 08:00:00', '2026-11-01 08:00:00')",
            "INSERT INTO stock_alert_log (id, client_id, product_id, kind, alert_date, stock_level, threshold_level, "
            "created_at) VALUES (1, 1, 1, 'low', '2026-11-01', 0, 5, '2026-11-01 08:00:00'), "
            "(2, 1, 2, 'low', '2026-11-01', 2, 5, '2026-11-01 08:00:00')",
            "INSERT INTO notifications (client_id, user_id, type, kind, level, message, is_read, created_at, "
            "alert_log_id) VALUES (1, 1, 'alert', 'low', 'out', 'Out of Stock: Milk (Uncategorized)', false, "
            "'2026-11-01 08:00:00', 1), (1, 1, 'alert', 'low', 'low', "
            "'Low Stock Alert: Tea - Only 2 remaining (Uncategorized)', false, '2026-11-01 08:00:00', 2)",
        ):
            db.session.execute(text(statement))
        db.session.commit()
        upgrade(revision="0012")  # the log's key before locations (0013 adds the place)
        assert db.session.execute(text("SELECT kind FROM stock_alert_log ORDER BY id")).scalars().all() == \
            ["out", "low"]
        assert db.session.execute(text("SELECT kind FROM notifications ORDER BY id")).scalars().all() == \
            ["out", "low"]
        assert db.session.execute(text("SELECT kinds FROM user_preferences ORDER BY user_id")).scalars().all() == \
            [",low,forecast,out,", ",restocked,"]
        # The day's `low` of Milk can still come after its `out` (another kind), never a second `out`.
        db.session.execute(text("INSERT INTO stock_alert_log (id, client_id, product_id, kind, alert_date, "
                                "stock_level, threshold_level, created_at) VALUES (3, 1, 1, 'low', '2026-11-01', "
                                "3, 5, '2026-11-01 09:00:00')"))
        db.session.commit()
        with pytest.raises(IntegrityError):
            db.session.execute(text("INSERT INTO stock_alert_log (id, client_id, product_id, kind, alert_date, "
                                    "stock_level, threshold_level, created_at) VALUES (4, 1, 1, 'out', "
                                    "'2026-11-01', 0, 5, '2026-11-01 10:00:00')"))
            db.session.commit()
        db.session.rollback()
        downgrade(revision="0008")
        # Milk's `out` folds into that day's `low`, and its notification follows it.
        assert db.session.execute(text("SELECT id, kind FROM stock_alert_log ORDER BY id")).all() == \
            [(2, "low"), (3, "low")]
        assert db.session.execute(text("SELECT kind, alert_log_id FROM notifications ORDER BY id")).all() == \
            [("low", 3), ("low", 2)]
        assert db.session.execute(text("SELECT kinds FROM user_preferences ORDER BY user_id")).scalars().all() == \
            [",low,forecast,", ",restocked,"]
        db.session.commit()
        upgrade()


def test_the_bells_indexes_come_with_0010_and_go_with_its_downgrade(empty_database):
    from sqlalchemy import inspect

    app = create_app(base_config(empty_database))
    added = {"ix_notifications_user_id", "ix_notifications_read_created", "ix_deliveries_body_kept"}

    def indexes():
        found = inspect(db.engine)
        return {i["name"] for table in ("notifications", "deliveries") for i in found.get_indexes(table)}

    with app.app_context():
        upgrade(revision="0010")
        assert added <= indexes()
        downgrade(revision="0009")
        assert not added & indexes() and "ix_notifications_user_unread" in indexes()
        upgrade(revision="0010")
        assert added <= indexes()
        db.session.remove()
        db.engine.dispose()
