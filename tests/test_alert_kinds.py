"""Alert kinds at their edges: forecast (runs out in N days at its own rate of sales), back in
stock, category thresholds, snooze and mute. Through the API where a till or a browser would go;
with the clock fixed (raise_alerts(now=...)) where a day or a midnight matters."""
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from modules.alerts.models import StockAlertLog
from modules.alerts.service import raise_alerts
from modules.extensions import db
from modules.notifications.models import Notification
from tests.support.shops import record_past_sale, set_stock_behind_the_apps_back
from modules.timeutil import utcnow


def settings(shop, **changes):
    response = shop.post("/api/notifications/settings", json=changes)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def change(shop, product, **body):
    response = shop.post(f"/api/products/{product['id']}/stock", json=body)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def messages(user):
    return [n["message"] for n in user.get("/api/notifications").get_json()["items"]]


def logged(kind=None):
    stmt = select(func.count()).select_from(StockAlertLog)
    if kind:
        stmt = stmt.where(StockAlertLog.kind == kind)
    return db.session.execute(stmt).scalar_one()


def add_sale(shop, product, units, at):
    """A sale recorded at another time (the past): what a till's history would hold."""
    record_past_sale(shop.client["id"], product["id"], units, at)
    db.session.commit()


def set_stock(product, stock):
    set_stock_behind_the_apps_back(product["id"], stock)
    db.session.commit()


# --- forecast -----------------------------------------------------------------------------------

def test_selling_ten_a_day_with_25_left_runs_low_in_about_2_days(shop):
    settings(shop, forecast_days=3)
    beans = shop.add_product("Espresso Beans", stock=305, category="Coffee")
    body = change(shop, beans, delta=-280, reason="sale")  # 280 in the 28-day window: 10 a day
    assert body["product"]["stock"] == 25 and body["product"]["days_left"] == 2
    assert body["product"]["status"] == "ok"
    assert body["alert"]["message"] == "Running Low: Espresso Beans - about 2 days left (Coffee)"
    assert body["alert"]["kind"] == "forecast"
    assert messages(shop) == ["Running Low: Espresso Beans - about 2 days left (Coffee)"]
    # Once that day: another sale the same day rings nothing more.
    assert change(shop, beans, delta=-1, reason="sale")["alert"] is None
    assert logged("forecast") == 1


def test_about_1_day_left_is_singular(shop):
    settings(shop, forecast_days=3)
    tea = shop.add_product("Tea", stock=300)
    body = change(shop, tea, delta=-280, reason="sale")  # 20 left at 10 a day
    assert body["alert"]["message"] == "Running Low: Tea - about 2 days left (Uncategorized)"
    set_stock(tea, 15)
    [alert] = raise_alerts(client_id=shop.client["id"], now=utcnow() + timedelta(days=1))
    assert alert.kind == "forecast" and alert.days_left == 1
    assert messages(shop)[0] == "Running Low: Tea - about 1 day left (Uncategorized)"


def test_no_sales_means_no_forecast(shop):
    settings(shop, forecast_days=30)
    product = shop.add_product("Candles", stock=8)
    body = change(shop, product, delta=-1, reason="damage")  # not a sale
    assert body["product"]["days_left"] is None and body["alert"] is None
    assert logged() == 0


def test_sales_outside_the_window_do_not_count(shop):
    settings(shop, forecast_days=5, forecast_window_days=28)
    product = shop.add_product("Flour", stock=20)
    add_sale(shop, product, 500, utcnow() - timedelta(days=29))
    assert shop.get(f"/api/products/{product['id']}").get_json()["days_left"] is None
    assert raise_alerts(client_id=shop.client["id"]) == []
    add_sale(shop, product, 56, utcnow() - timedelta(days=20))  # 2 a day: 10 days left
    assert shop.get(f"/api/products/{product['id']}").get_json()["days_left"] == 10
    assert raise_alerts(client_id=shop.client["id"]) == []


@pytest.mark.parametrize("forecast_days, rings", [(2, False), (3, True), (4, True), (0, False)])
def test_exactly_forecast_days_left_rings(shop, forecast_days, rings):
    settings(shop, forecast_days=forecast_days)
    product = shop.add_product("Rice", stock=58)
    add_sale(shop, product, 280, utcnow() - timedelta(days=3))  # 10 a day; 30 left = 3 days
    set_stock(product, 30)
    new = raise_alerts(client_id=shop.client["id"])
    assert [a.kind for a in new] == (["forecast"] if rings else [])


def test_a_product_already_low_gets_low_not_forecast(shop):
    settings(shop, forecast_days=10)
    product = shop.add_product("Milk", stock=300, category="Dairy")
    body = change(shop, product, delta=-296, reason="sale")  # 4 left: low (shop threshold 5)
    assert body["alert"]["kind"] == "low"
    assert body["alert"]["message"] == "Low Stock Alert: Milk - Only 4 remaining (Dairy)"
    assert logged("forecast") == 0


def test_low_and_forecast_on_different_days(shop):
    settings(shop, forecast_days=3)
    product = shop.add_product("Oats", stock=305)
    assert change(shop, product, delta=-280, reason="sale")["alert"]["kind"] == "forecast"
    set_stock(product, 4)
    [low] = raise_alerts(client_id=shop.client["id"], now=utcnow() + timedelta(days=1))
    assert low.kind == "low"
    kinds = db.session.execute(select(StockAlertLog.kind).order_by(StockAlertLog.id)).scalars().all()
    assert kinds == ["forecast", "low"]


# --- back in stock ------------------------------------------------------------------------------

def test_restocking_a_low_product_rings_back_in_stock(shop):
    settings(shop, notify_restocked=True)
    staff = shop.add_user("staff@example.com", "staff")
    milk = shop.add_product("Milk", stock=10, category="Dairy")
    change(shop, milk, delta=-8, reason="sale")
    body = change(staff, milk, delta=18, reason="delivery")
    assert body["alert"]["kind"] == "restocked"
    assert body["alert"]["message"] == "Back in Stock: Milk - 20 in stock (Dairy)"
    for user in (shop, staff):
        assert messages(user)[0] == "Back in Stock: Milk - 20 in stock (Dairy)"
    assert shop.get("/api/alerts").get_json()["items"] == []  # the episode is closed
    # Once per episode: more stock rings nothing more.
    assert change(shop, milk, delta=5, reason="delivery")["alert"] is None


def test_back_in_stock_is_off_by_default(shop):
    milk = shop.add_product("Milk", stock=10)
    change(shop, milk, delta=-8, reason="sale")
    assert change(shop, milk, delta=18, reason="delivery")["alert"] is None
    assert logged("restocked") == 0


def test_a_hand_resolved_episode_sends_nothing_when_restocked(shop):
    settings(shop, notify_restocked=True)
    milk = shop.add_product("Milk", stock=10)
    change(shop, milk, delta=-8, reason="sale")
    [episode] = shop.get("/api/alerts").get_json()["items"]
    assert shop.post(f"/api/alerts/{episode['id']}/resolve").status_code == 200
    assert change(shop, milk, delta=18, reason="delivery")["alert"] is None
    assert logged("restocked") == 0


def test_an_archived_product_sends_nothing(shop):
    settings(shop, notify_restocked=True)
    milk = shop.add_product("Milk", stock=10)
    change(shop, milk, delta=-8, reason="sale")
    assert shop.delete(f"/api/products/{milk['id']}").status_code == 200
    assert shop.get("/api/alerts").get_json()["items"] == []
    set_stock(milk, 50)
    assert raise_alerts(client_id=shop.client["id"]) == []
    assert logged("restocked") == 0


def test_the_monitor_rings_back_in_stock_for_stock_changed_behind_the_apps_back(shop, other_shop):
    settings(shop, notify_restocked=True)
    milk = shop.add_product("Milk", stock=3)
    set_stock(milk, 40)
    [alert] = raise_alerts()
    assert alert.kind == "restocked" and alert.client_id == shop.client["id"]
    assert messages(shop)[0] == "Back in Stock: Milk - 40 in stock (Uncategorized)"
    assert messages(other_shop) == []


# --- category thresholds ------------------------------------------------------------------------

def test_a_category_threshold_of_12_makes_a_product_with_10_low(shop):
    product = shop.add_product("Cheddar", stock=10, category="Cheese")
    assert product["status"] == "ok" and product["threshold_source"] == "shop"
    category_id = product["category"]["id"]
    response = shop.patch(f"/api/categories/{category_id}", json={"low_stock_threshold": 12})
    assert response.status_code == 200
    assert response.get_json() == {"id": category_id, "name": "Cheese", "low_stock_threshold": 12, "products": 1}
    view = shop.get(f"/api/products/{product['id']}").get_json()
    assert (view["effective_threshold"], view["threshold_source"], view["status"]) == (12, "category", "low")
    assert messages(shop) == ["Low Stock Alert: Cheddar - Only 10 remaining (Cheese)"]
    assert [p["name"] for p in shop.get("/api/products?stock=low").get_json()["items"]] == ["Cheddar"]


def test_threshold_precedence_product_then_category_then_shop(shop):
    own = shop.add_product("Brie", stock=10, category="Cheese", low_stock_threshold=3)
    inherited = shop.add_product("Gouda", stock=10, category="Cheese")
    plain = shop.add_product("Bread", stock=10)
    shop.patch(f"/api/categories/{own['category']['id']}", json={"low_stock_threshold": 12})
    settings(shop, low_stock_threshold=7)
    views = {p["name"]: p for p in shop.get("/api/products").get_json()["items"]}
    assert (views["Brie"]["effective_threshold"], views["Brie"]["threshold_source"]) == (3, "product")
    assert (views["Gouda"]["effective_threshold"], views["Gouda"]["threshold_source"]) == (12, "category")
    assert (views["Bread"]["effective_threshold"], views["Bread"]["threshold_source"]) == (7, "shop")
    assert [views[name]["status"] for name in ("Brie", "Gouda", "Bread")] == ["ok", "low", "ok"]
    raise_alerts(client_id=shop.client["id"])
    alerted = db.session.execute(select(StockAlertLog.product_id)).scalars().all()
    assert alerted == [inherited["id"]] and own["id"] not in alerted and plain["id"] not in alerted


def test_staff_cannot_set_a_category_threshold(shop):
    staff = shop.add_user("staff@example.com", "staff")
    product = shop.add_product("Cheddar", stock=10, category="Cheese")
    response = staff.patch(f"/api/categories/{product['category']['id']}", json={"low_stock_threshold": 12})
    assert response.status_code == 403
    assert staff.post("/api/categories", json={"name": "Tea", "low_stock_threshold": 4}).status_code == 403
    assert shop.get("/api/categories").get_json()["items"][0]["low_stock_threshold"] is None


@pytest.mark.parametrize("body", [{"low_stock_threshold": -1}, {"low_stock_threshold": "12"},
                                  {"low_stock_threshold": 1_000_001}, {"name": ""}, {"colour": "red"}])
def test_bad_category_changes_are_refused_whole(shop, body):
    product = shop.add_product("Cheddar", stock=10, category="Cheese")
    response = shop.patch(f"/api/categories/{product['category']['id']}", json={"name": "Fromage", **body})
    assert response.status_code == 400
    assert shop.get("/api/categories").get_json()["items"][0]["name"] == "Cheese"


def test_another_shops_category_is_404(shop, other_shop):
    product = other_shop.add_product("Theirs", stock=10, category="Secret")
    response = shop.patch(f"/api/categories/{product['category']['id']}", json={"low_stock_threshold": 1})
    assert response.status_code == 404


def test_products_page_marks_a_threshold_from_the_category(shop):
    product = shop.add_product("Cheddar", stock=20, category="Cheese")
    shop.patch(f"/api/categories/{product['category']['id']}", json={"low_stock_threshold": 12})
    html = shop.get("/retail/products").get_data(as_text=True)
    assert "12 <span class=\"muted\" title=\"the category's threshold\">(category)</span>" in html


# --- snooze and mute ----------------------------------------------------------------------------

def test_a_snoozed_product_made_out_of_stock_rings_nothing_until_the_snooze_ends(shop):
    product = shop.add_product("Bagels", stock=10)
    response = shop.post(f"/api/products/{product['id']}/snooze", json={"days": 7})
    assert response.status_code == 200
    view = response.get_json()
    assert view["muted"] is False and view["snoozed_until"] is not None
    body = change(shop, product, delta=-10, reason="sale")
    assert body["alert"] is None and body["product"]["status"] == "out"
    assert raise_alerts() == [] and messages(shop) == []
    ends = datetime.fromisoformat(view["snoozed_until"]).astimezone(timezone.utc).replace(tzinfo=None)
    assert raise_alerts(now=ends - timedelta(seconds=1)) == []
    [alert] = raise_alerts(now=ends)
    assert alert.level == "out" and messages(shop) == ["Out of Stock: Bagels (Uncategorized)"]


def test_snooze_ends_at_shop_local_midnight(make_shop):
    shop = make_shop("Late Shop", timezone="America/New_York")
    product = shop.add_product("Bagels", stock=10)
    view = shop.post(f"/api/products/{product['id']}/snooze", json={"days": 1}).get_json()
    local_end = datetime.fromisoformat(view["snoozed_until"]).astimezone(ZoneInfo("America/New_York"))
    assert (local_end.hour, local_end.minute) == (0, 0)
    assert local_end.date() == datetime.now(ZoneInfo("America/New_York")).date() + timedelta(days=1)
    set_stock(product, 0)
    midnight = local_end.astimezone(timezone.utc).replace(tzinfo=None)
    assert raise_alerts(now=midnight - timedelta(minutes=1)) == []
    assert [a.kind for a in raise_alerts(now=midnight)] == ["out"]


def test_a_muted_product_raises_no_kind_until_unmuted(shop):
    settings(shop, forecast_days=30, notify_restocked=True)
    product = shop.add_product("Jam", stock=300)
    view = shop.post(f"/api/products/{product['id']}/snooze", json={"forever": True}).get_json()
    assert view["muted"] is True and view["snoozed_until"] is None
    change(shop, product, delta=-280, reason="sale")  # would be a forecast
    change(shop, product, delta=-20, reason="sale")  # would be out
    assert raise_alerts(now=utcnow() + timedelta(days=400)) == [] and logged() == 0
    lifted = shop.delete(f"/api/products/{product['id']}/snooze")
    assert lifted.status_code == 200 and lifted.get_json()["muted"] is False
    assert messages(shop) == ["Out of Stock: Jam (Uncategorized)"]  # checked when the mute is lifted


def test_staff_cannot_snooze(shop):
    staff = shop.add_user("staff@example.com", "staff")
    product = shop.add_product("Bagels", stock=10)
    assert staff.post(f"/api/products/{product['id']}/snooze", json={"days": 1}).status_code == 403
    assert staff.delete(f"/api/products/{product['id']}/snooze").status_code == 403
    assert shop.get(f"/api/products/{product['id']}").get_json()["snoozed_until"] is None


@pytest.mark.parametrize("body", [
    {}, {"days": 0}, {"days": 366}, {"days": "7"}, {"days": 1.5}, {"days": True}, {"forever": False},
    {"forever": "yes"}, {"days": 1, "forever": True}, {"until": "tomorrow"}, {"until": "2020-01-01T00:00:00Z"},
    {"until": "2999-01-01T00:00:00Z"}, {"until": 5}, {"weeks": 1}, {"days": 1, "until": "2030-01-01"},
])
def test_bad_snooze_bodies_are_400_and_save_nothing(shop, body):
    product = shop.add_product("Bagels", stock=10)
    response = shop.post(f"/api/products/{product['id']}/snooze", json=body)
    assert response.status_code == 400, response.get_json()
    assert response.get_json()["error"]
    view = shop.get(f"/api/products/{product['id']}").get_json()
    assert view["snoozed_until"] is None and view["muted"] is False


def test_snooze_until_an_instant_and_another_shops_product_is_404(shop, other_shop):
    product = shop.add_product("Bagels", stock=10)
    until = (datetime.now(timezone.utc) + timedelta(days=3)).replace(microsecond=0)
    view = shop.post(f"/api/products/{product['id']}/snooze", json={"until": until.isoformat()}).get_json()
    assert datetime.fromisoformat(view["snoozed_until"]) == until
    assert other_shop.post(f"/api/products/{product['id']}/snooze", json={"days": 1}).status_code == 404
    assert other_shop.delete(f"/api/products/{product['id']}/snooze").status_code == 404


def test_the_products_page_offers_snooze_and_shows_the_badge(shop):
    product = shop.add_product("Bagels", stock=10)
    html = shop.get("/retail/products").get_data(as_text=True)
    assert "Snooze 1 day" in html and "1 week" in html and "Mute" in html
    shop.post(f"/api/products/{product['id']}/snooze", json={"days": 7})
    html = shop.get("/retail/products").get_data(as_text=True)
    assert "Snoozed until" in html and "End snooze" in html


def test_notifications_carry_their_kind(shop):
    milk = shop.add_product("Milk", stock=9)
    change(shop, milk, delta=-6, reason="sale")
    [item] = shop.get("/api/notifications").get_json()["items"]
    assert item["kind"] == "low" and item["product_id"] == milk["id"]
    assert db.session.execute(select(Notification.kind)).scalar_one() == "low"
