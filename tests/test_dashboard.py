"""The dashboard at `/`, the page after sign-in: counts of out, low, running out and snoozed
products, the products that need action (out first), the user's last alerts, alerts per day,
and a first-run checklist for an empty shop."""
import re

from modules.alerts.models import StockAlertLog
from modules.extensions import db


def dashboard(shop):
    response = shop.get("/")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def counts(html):
    return {k: int(v) for k, v in re.findall(r'data-count="(\w+)">(\d+)<', html)}


def test_sign_in_lands_on_the_dashboard(client, shop):
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post("/login", data={"csrf_token": token, "email": shop.email, "password": shop.password})
    assert response.status_code == 303 and response.headers["Location"] == "/"
    assert "What needs attention" in client.get("/").get_data(as_text=True)


def test_anonymous_root_goes_to_login(client):
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"].endswith("/login")


def test_empty_shop_sees_the_first_run_checklist(shop):
    html = dashboard(shop)
    assert "Get started" in html
    for link in ('href="/retail/products/new"', 'href="/retail/products/import"', 'href="/settings/notifications"'):
        assert link in html
    assert "data-count=" not in html


def test_counts_out_low_running_out_and_snoozed(shop):
    shop.post("/api/notifications/settings", json={"forecast_days": 5})
    shop.add_product("Empty", stock=0)
    shop.add_product("Nearly", stock=2)
    shop.add_product("Plenty", stock=50)
    beans = shop.add_product("Beans", stock=300)
    shop.post(f"/api/products/{beans['id']}/stock", json={"delta": -280, "reason": "sale"})  # 20 left, ~2 days
    snoozed = shop.add_product("Quiet", stock=1)
    shop.post(f"/api/products/{snoozed['id']}/snooze", json={"days": 3})
    archived = shop.add_product("Gone", stock=0)
    shop.delete(f"/api/products/{archived['id']}")
    assert counts(dashboard(shop)) == {"out": 1, "low": 2, "running_out": 1, "snoozed": 1}


def test_needs_action_lists_out_first_then_low_then_running_out(shop):
    shop.post("/api/notifications/settings", json={"forecast_days": 5})
    shop.add_product("Low Milk", stock=3)
    shop.add_product("Out Bread", stock=0)
    beans = shop.add_product("Beans", stock=300)
    shop.post(f"/api/products/{beans['id']}/stock", json={"delta": -280, "reason": "sale"})
    section = dashboard(shop).split('class="card needs-action"', 1)[1].split("</section>", 1)[0]
    names = re.findall(r'<a href="/retail/products/\d+/edit">([^<]+)</a>', section)
    assert names == ["Out Bread", "Low Milk", "Beans"]


def test_lists_are_capped_with_a_see_all_link_to_the_filtered_list(shop):
    for i in range(7):
        shop.add_product(f"Out {i}", stock=0)
    html = dashboard(shop)
    section = html.split('class="card needs-action"', 1)[1].split("</section>", 1)[0]
    assert section.count("/edit") == 5
    assert re.search(r'<a class="see-all" href="/retail/products\?stock=out">See all 7 out of stock</a>', section)


def test_last_alerts_are_this_users_notifications(shop, other_shop):
    product = shop.add_product("Oat Milk", stock=10)
    shop.post(f"/api/products/{product['id']}/stock", json={"delta": -8, "reason": "sale"})
    other_shop.add_product("Rival Milk", stock=0)
    html = dashboard(shop)
    alerts = html.split('class="card last-alerts"', 1)[1].split("</section>", 1)[0]
    assert "Low Stock Alert: Oat Milk - Only 2 remaining (Uncategorized)" in alerts
    assert "Rival" not in html
    assert re.search(r"<time [^>]+>\d{4}-\d\d-\d\d \d\d:\d\d UTC</time>", alerts)


def test_alerts_chart_has_30_days_and_counts_todays_alerts(shop):
    shop.add_product("A", stock=0)
    shop.add_product("B", stock=1)
    html = dashboard(shop)
    chart = html.split('class="card alerts-chart"', 1)[1].split("</section>", 1)[0]
    values = [int(v) for v in re.findall(r'<rect class="bar"[^>]*data-value="(\d+)"', chart)]
    logged = db.session.execute(db.select(db.func.count()).select_from(StockAlertLog)).scalar_one()
    assert len(values) == 30 and values[-1] == logged == 2 and sum(values) == 2
    assert "2 alerts in the last 30 days" in chart


def test_notifications_page_and_dashboard_show_the_shops_zone(make_shop):
    shop = make_shop("Kiwi Shop", timezone="Pacific/Auckland")
    shop.add_product("Feijoa", stock=0)
    for path in ("/notifications", "/"):
        html = shop.get(path).get_data(as_text=True)
        assert re.search(r"<time [^>]+>\d{4}-\d\d-\d\d \d\d:\d\d NZ[DS]T</time>", html), path
        assert " UTC</time>" not in html
        assert html.count('class="shop-zone"') == 1
