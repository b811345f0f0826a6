"""The alert path: one rule, two callers (a stock change in the app, the monitor), once per
product per shop-local day, never in another shop."""
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from modules.extensions import db
from modules.alerts.service import raise_alerts
from modules.alerts.models import StockAlert, StockAlertLog
from modules.notifications.models import Notification
from modules.alerts.monitor import run_cycle
from tests.support import shops


def count(model, *where):
    return db.session.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def set_stock_behind_the_apps_back(product_id, stock):
    shops.set_stock_behind_the_apps_back(product_id, stock)
    db.session.commit()


def sell(shop, product, n):
    response = shop.post(f"/api/products/{product['id']}/stock", json={"delta": -n, "reason": "sale"})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_stock_change_rings_every_users_bell_in_the_same_request(shop, other_shop):
    staff = shop.add_user("staff@example.com", "staff")
    product = shop.add_product("Whole Milk", stock=9, category="Dairy")
    body = sell(shop, product, 6)
    assert body["alert"]["message"] == "Low Stock Alert: Whole Milk - Only 3 remaining (Dairy)"
    assert body["alert"]["type"] == "alert" and body["alert"]["level"] == "low"
    assert body["alert"]["action_url"].startswith("/retail/products")
    for user in (shop, staff):
        items = user.get("/api/notifications").get_json()["items"]
        assert [n["message"] for n in items] == ["Low Stock Alert: Whole Milk - Only 3 remaining (Dairy)"]
    assert other_shop.get("/api/notifications").get_json() == {"items": [], "unread_count": 0}


def test_out_of_stock_message_and_uncategorized(shop):
    product = shop.add_product("Bagel", stock=9)
    body = sell(shop, product, 9)
    assert body["alert"]["message"] == "Out of Stock: Bagel (Uncategorized)" and body["alert"]["level"] == "out"


def test_at_most_once_per_product_per_day(shop):
    product = shop.add_product("Milk", stock=9)
    assert sell(shop, product, 5)["alert"] is not None
    assert sell(shop, product, 1)["alert"] is None
    assert run_cycle() == []
    assert count(StockAlertLog) == 1 and count(Notification) == 1


def test_monitor_finds_changes_made_behind_the_apps_back(shop, other_shop):
    product = shop.add_product("Milk", stock=50, category="Dairy")
    other_shop.add_product("Theirs", stock=50)
    set_stock_behind_the_apps_back(product["id"], 2)
    new = run_cycle()
    assert [(a.product_id, a.stock, a.level) for a in new] == [(product["id"], 2, "low")]
    messages = [n["message"] for n in shop.get("/api/notifications").get_json()["items"]]
    assert messages == ["Low Stock Alert: Milk - Only 2 remaining (Dairy)"]
    assert other_shop.get("/api/notifications/unread-count").get_json() == {"count": 0}
    assert run_cycle() == []
    assert count(Notification) == 1


@pytest.mark.parametrize("stock, alerts", [(6, 0), (5, 1), (0, 1), (-4, 1)])
def test_rule_edges_against_shop_threshold(shop, stock, alerts):
    product = shop.add_product("Edge", stock=100)
    set_stock_behind_the_apps_back(product["id"], stock)
    assert len(run_cycle()) == alerts


def test_product_threshold_overrides_shop_threshold(shop):
    high = shop.add_product("High", stock=8, low_stock_threshold=10)
    low = shop.add_product("Zero", stock=1, low_stock_threshold=0)
    assert high["status"] == "low" and low["status"] == "ok"
    logged = db.session.execute(select(StockAlertLog.product_id, StockAlertLog.threshold_level)).all()
    assert logged == [(high["id"], 10)]


def test_archived_product_never_alerts(shop):
    product = shop.add_product("Old", stock=50)
    shop.delete(f"/api/products/{product['id']}")
    set_stock_behind_the_apps_back(product["id"], 0)
    assert run_cycle() == []
    assert count(StockAlertLog) == 0


def test_disabled_shop_gets_nothing_from_either_path(shop):
    assert shop.post("/api/notifications/settings", json={"low_stock_enabled": False}).status_code == 200
    product = shop.add_product("Milk", stock=9)
    assert sell(shop, product, 8)["alert"] is None
    assert run_cycle() == []
    assert shop.post("/api/alerts/trigger-check").get_json() == {"checked": 1, "alerts_created": 0}
    assert count(Notification) == 0


def test_shop_threshold_change_applies_to_products_without_their_own(shop):
    product = shop.add_product("Milk", stock=8)
    assert product["status"] == "ok"
    shop.post("/api/notifications/settings", json={"low_stock_threshold": 10})
    assert shop.get(f"/api/products/{product['id']}").get_json()["status"] == "low"
    assert shop.post("/api/alerts/trigger-check").get_json() == {"checked": 1, "alerts_created": 1}


def test_shop_local_day_in_another_timezone(shop, make_shop):
    auckland = make_shop("Kiwi Shop", timezone="Pacific/Auckland")
    product = auckland.add_product("Feijoa", stock=50)
    set_stock_behind_the_apps_back(product["id"], 1)
    # Auckland is UTC+13 on 21 Nov 2026: local midnight of the 22nd is 11:00 UTC on the 21st.
    before_midnight = datetime(2026, 11, 21, 10, 59)
    after_midnight = datetime(2026, 11, 21, 11, 1)
    assert len(raise_alerts(client_id=auckland.client["id"], now=before_midnight)) == 1
    assert raise_alerts(client_id=auckland.client["id"], now=before_midnight - timedelta(hours=10)) == []
    assert len(raise_alerts(client_id=auckland.client["id"], now=after_midnight)) == 1
    db.session.commit()
    dates = db.session.execute(select(StockAlertLog.alert_date).order_by(StockAlertLog.id)).scalars().all()
    assert [d.isoformat() for d in dates] == ["2026-11-21", "2026-11-22"]


def test_still_low_next_day_reminds_again_in_the_same_episode(shop):
    shop.add_product("Milk", stock=3)
    tomorrow = datetime.utcnow() + timedelta(days=1)
    assert len(raise_alerts(now=tomorrow)) == 1
    db.session.commit()
    assert count(Notification) == 2
    episodes = shop.get("/api/alerts").get_json()["items"]
    assert len(episodes) == 1 and episodes[0]["status"] == "active"
    assert episodes[0]["last_notified_at"] > episodes[0]["opened_at"]


def test_restock_resolves_episode_and_manual_resolve(shop):
    milk = shop.add_product("Milk", stock=3)
    shop.add_product("Bread", stock=0)
    shop.post(f"/api/products/{milk['id']}/stock", json={"delta": 20, "reason": "delivery"})
    alerts = shop.get("/api/alerts?show_resolved=1").get_json()["items"]
    by_product = {a["product"]["name"]: a for a in alerts}
    assert by_product["Milk"]["status"] == "resolved" and by_product["Bread"]["status"] == "active"
    assert [a["product"]["name"] for a in shop.get("/api/alerts").get_json()["items"]] == ["Bread"]
    bread_alert = by_product["Bread"]
    assert bread_alert["level"] == "out" and bread_alert["stock_at_alert"] == 0 and bread_alert["threshold"] == 5
    resolved = shop.post(f"/api/alerts/{bread_alert['id']}/resolve")
    assert resolved.status_code == 200 and resolved.get_json()["status"] == "resolved"
    assert shop.post(f"/api/alerts/{bread_alert['id']}/resolve").status_code == 409
    assert shop.get("/api/alerts/stats").get_json() == {
        "total": 2, "active": 0, "resolved": 2, "low_stock_products": 0, "out_of_stock_products": 1}


def test_monitor_resolves_episodes_restocked_behind_the_apps_back(shop):
    product = shop.add_product("Milk", stock=3)
    set_stock_behind_the_apps_back(product["id"], 40)
    run_cycle()
    assert count(StockAlert, StockAlert.resolved_at.is_(None)) == 0


def test_inactive_user_gets_no_notification(shop):
    staff = shop.add_user("staff@example.com", "staff")
    shop.delete(f"/api/users/{staff.user['id']}")
    shop.add_product("Milk", stock=1)
    assert count(Notification) == 1


def test_action_routes_refuse_a_body_with_fields(shop):
    response = shop.post("/api/alerts/trigger-check", json={"client_id": 2})
    assert response.status_code == 400
    assert shop.post("/api/alerts/trigger-check", json={}).status_code == 200


def test_low_again_the_same_day_opens_a_new_episode_without_a_second_notification(shop):
    product = shop.add_product("Soap", stock=20)
    sell(shop, product, 15)
    shop.post(f"/api/products/{product['id']}/stock", json={"quantity": 50, "reason": "delivery"})
    assert shop.get("/api/alerts").get_json()["items"] == []
    assert sell(shop, product, 49)["alert"] is None  # the day's notification was already sent
    active = shop.get("/api/alerts").get_json()["items"]
    assert [(a["product"]["name"], a["level"], a["status"]) for a in active] == [("Soap", "low", "active")]
    # Running out is news of its own, the same day (API.md, "Alert kinds": low then out raises both).
    assert sell(shop, product, 1)["alert"]["message"] == "Out of Stock: Soap (Uncategorized)"
    assert shop.get("/api/alerts").get_json()["items"][0]["level"] == "out"
    assert count(Notification) == 2
