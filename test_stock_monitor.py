"""The seeds' end-to-end script for the stock monitor, as a pytest module.

Run it with pytest (on SQLite and PostgreSQL, like every database test) or on its own:
`python test_stock_monitor.py`. Tables are created by the migrations, a shop gets products and
settings, one manual check raises the alerts, the notifications and the daily log are verified
row by row, a second check creates nothing, and the monitor thread is started and stopped.
"""
import sys
import threading
import time

import pytest
from sqlalchemy import select

from modules.auth import service as auth_service
from modules.extensions import db
from modules.alerts.models import StockAlertLog
from modules.notifications.models import Notification
from modules.auth.settings import get_settings
from modules.delivery.settings import save_settings, settings_dict
from modules.alerts.monitor import StockMonitorService, run_cycle
from modules.retail import service as retail_service
from modules.retail.models import Product
from modules.timeutil import local_date, utcnow

PRODUCTS = [
    # name, category, stock, own threshold, active -> expected message or None
    ("Whole Milk", "Dairy", 4, None, True, "Low Stock Alert: Whole Milk - Only 4 remaining (Dairy)"),
    ("Cheddar", "Dairy", 0, None, True, "Out of Stock: Cheddar (Dairy)"),
    ("Espresso", "Beverages", 15, 20, True, "Low Stock Alert: Espresso - Only 15 remaining (Beverages)"),
    ("Loose Nails", None, 7, None, True, "Low Stock Alert: Loose Nails - Only 7 remaining (Uncategorized)"),
    ("Bananas", "Produce", 40, None, True, None),
    ("Old Stock", "Produce", 0, None, False, None),
]

# The app's fixtures (tests/conftest.py does not reach a file outside tests/, e.g. when run alone).
pytest_plugins = ["tests.support.app"]


@pytest.fixture
def seeded_shop(app):
    client, owner = auth_service.create_shop("Seed Shop", "owner@seed.example", "password123", "Europe/Berlin")
    staff = auth_service.create_user(client.id, "staff@seed.example", "password123", "staff")
    save_settings(client.id, {"low_stock_threshold": 8}, app.config, settings_dict(client.id, app.config))
    settings = get_settings(client.id)
    assert settings.low_stock_enabled and settings.low_stock_threshold == 8
    ids = {}
    for name, category, stock, threshold, active, _ in PRODUCTS:
        product = Product(client_id=client.id, name=name, stock=stock, low_stock_threshold=threshold,
                          active=active,
                          category=retail_service.category_by_name(client.id, category) if category else None)
        db.session.add(product)  # written straight to the table: only the monitor looks at them
        db.session.flush()
        ids[name] = product.id
    db.session.commit()
    return client, [owner, staff], ids


def test_stock_monitor_end_to_end(app, seeded_shop):
    client, users, ids = seeded_shop
    expected = {name: message for name, *_, message in PRODUCTS if message}

    # One manual check.
    new = run_cycle()
    assert sorted(a.product_id for a in new) == sorted(ids[name] for name in expected)

    # The daily log, row by row.
    today = local_date("Europe/Berlin", utcnow())
    log = db.session.execute(select(StockAlertLog).order_by(StockAlertLog.product_id)).scalars().all()
    stock_of = {name: (stock, threshold if threshold is not None else 8) for name, _, stock, threshold, *_ in PRODUCTS}
    assert [(r.client_id, r.product_id, r.alert_date, r.stock_level, r.threshold_level) for r in log] == sorted(
        (client.id, ids[name], today, *stock_of[name]) for name in expected)

    # The notifications, row by row: one per product per user.
    rows = db.session.execute(select(Notification).order_by(Notification.user_id, Notification.alert_log_id)).scalars().all()
    assert len(rows) == len(expected) * len(users)
    by_log = {r.id: r for r in log}
    for row in rows:
        product_name = next(n for n, i in ids.items() if i == by_log[row.alert_log_id].product_id)
        assert row.client_id == client.id and row.user_id in {u.id for u in users}
        assert row.message == expected[product_name]
        assert row.type == "alert" and row.is_read is False
        assert row.level == ("out" if product_name == "Cheddar" else "low")
        assert row.action_url.startswith("/retail/products")

    # A second check creates nothing.
    assert run_cycle() == []
    assert len(db.session.execute(select(Notification)).scalars().all()) == len(rows)

    # The service, started and stopped, leaves no thread behind.
    service = StockMonitorService(app, interval=600, initial_delay=0)
    service.start()
    deadline = time.monotonic() + 10
    while service.cycles < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert service.cycles == 1 and service.last_error is None and service.last_created == 0
    service.stop()
    assert not service.running
    assert not [t for t in threading.enumerate() if t.name == "stock-monitor"]


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q", "-p", "no:cacheprovider"]))
