"""A product's page: its movement history (paged, who, when in the shop's zone), its stock chart
over 30 or 90 days with the threshold, and archive / restore (API and page)."""
import re

from modules.extensions import db
from modules.retail import charts
from modules.retail.models import StockMovement


def _token(http, path):
    return re.search(r'name="csrf_token" value="([^"]+)"', http.get(path).get_data(as_text=True)).group(1)


def page(shop, product_id, query=""):
    response = shop.get(f"/retail/products/{product_id}/edit{query}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_history_shows_who_reason_delta_and_stock_after_newest_first(shop):
    product = shop.add_product("Oat Milk", stock=10)
    shop.post(f"/api/products/{product['id']}/stock", json={"delta": -3, "reason": "sale"})
    html = page(shop, product["id"])
    rows = re.findall(r'<tr data-movement-id="\d+"><td class="when">([^<]+)</td><td class="who">([^<]+)</td>'
                      r'<td class="reason">(\w+)</td><td class="num delta">([^<]+)</td><td class="num after">(\d+)', html)
    assert [r[1:] for r in rows] == [(shop.email, "sale", "-3", "7"), (shop.email, "initial", "+10", "10")]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", r[0]) for r in rows)


def test_history_times_are_in_the_shops_zone(make_shop):
    shop = make_shop("Kiwi Shop", timezone="Pacific/Auckland")
    product = shop.add_product("Feijoa", stock=4)
    html = page(shop, product["id"])
    when = re.search(r'<td class="when">([^<]+)</td>', html).group(1)
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d NZ[DS]T", when), when
    assert 'class="shop-zone">Pacific/Auckland<' in html  # named once, in the footer


def test_history_pages_with_before_id(shop):
    product = shop.add_product("Tea", stock=100)
    for _ in range(22):
        shop.post(f"/api/products/{product['id']}/stock", json={"delta": -1, "reason": "sale"})
    first = page(shop, product["id"])
    assert first.count("data-movement-id=") == 20
    older = re.search(r'class="older" href="([^"]+)"', first).group(1).replace("&amp;", "&")
    assert "before_id=" in older
    second = shop.get(older).get_data(as_text=True)
    after = re.findall(r'<td class="num after">(\d+)</td>', second)
    assert after == ["98", "99", "100"]  # the three oldest: two sales and the initial stock
    assert 'class="older"' not in second


def test_chart_draws_stock_and_threshold_and_toggles_90_days(shop):
    product = shop.add_product("Oat Milk", stock=10, low_stock_threshold=4)
    shop.post(f"/api/products/{product['id']}/stock", json={"delta": -8, "reason": "sale"})
    html = page(shop, product["id"])
    assert "<h2>Stock, last 30 days</h2>" in html
    path = re.search(r'<path class="line" d="([^"]+)"', html).group(1)
    assert path.startswith("M") and path.count("V") == 2  # the initial 10, then the sale to 2
    assert re.search(r'<line class="threshold"[^>]+y1="[\d.]+"', html)
    assert "threshold 4" in html and '<script' not in html.split("<svg", 1)[1].split("</svg>", 1)[0]
    ninety = page(shop, product["id"], "?days=90")
    assert "<h2>Stock, last 90 days</h2>" in ninety and 'aria-current="page">90 days' in ninety
    assert "last 30 days" in page(shop, product["id"], "?days=7")  # anything else: the default


def test_chart_starts_from_the_stock_before_the_window(shop):
    product = shop.add_product("Jam", stock=10)
    shop.post(f"/api/products/{product['id']}/stock", json={"delta": 5, "reason": "delivery"})
    # Age both movements past the window: the chart is flat at the stock they left (15).
    db.session.execute(db.update(StockMovement).values(created_at=db.func.datetime("now", "-60 days"))
                       if db.engine.dialect.name == "sqlite" else
                       db.update(StockMovement).values(created_at=db.text("now() - interval '60 days'")))
    db.session.commit()
    html = page(shop, product["id"])
    path = re.search(r'<path class="line" d="([^"]+)"', html).group(1)
    assert "V" not in path  # no change inside the window
    y_at_15 = re.search(r'M[\d.]+,([\d.]+)', path).group(1)
    axis = charts.HEIGHT - charts.BOTTOM
    assert float(y_at_15) == round(axis - (axis - charts.TOP) * 15 / 20, 1)  # at 15 (of 20), not at 0


def test_chart_of_a_new_product_starts_when_it_was_added_not_at_0_before(shop):
    product = shop.add_product("Oat Milk", stock=10, low_stock_threshold=4)
    html = page(shop, product["id"])
    path = re.search(r'<path class="line" d="([^"]+)"', html).group(1)
    left = float(re.search(r"M([\d.]+),", path).group(1))
    assert left > charts.LEFT + 0.9 * (charts.WIDTH - charts.RIGHT - charts.LEFT)  # today, not 30 days ago
    assert re.search(rf'<line class="threshold" x1="{left}"', html)
    assert "The line starts on " in html and "when the product was added" in html


def test_an_out_of_stock_product_reads_out_of_stock_not_about_0_days_left(shop):
    shop.post("/api/notifications/settings", json={"forecast_days": 3})
    product = shop.add_product("Beans", stock=30)
    shop.post(f"/api/products/{product['id']}/stock", json={"delta": -30, "reason": "sale"})
    assert shop.get(f"/api/products/{product['id']}").get_json()["days_left"] == 0  # the contract's value
    html = page(shop, product["id"])
    assert '<strong class="days-left">out of stock</strong>' in html and "(out of stock)" in html
    assert "0 days left" not in html and "about 0" not in html
    listing = shop.get("/retail/products").get_data(as_text=True)
    assert re.search(r'<td class="num days-left out-now" data-label="Days left">Out of stock</td>', listing)


def test_days_left_is_shown_when_known(shop):
    shop.post("/api/notifications/settings", json={"forecast_days": 3})
    product = shop.add_product("Beans", stock=305)
    shop.post(f"/api/products/{product['id']}/stock", json={"delta": -280, "reason": "sale"})
    html = page(shop, product["id"])
    assert '<strong class="days-left">2</strong>' in html and "about 2 days left" in html


def test_archived_product_page_offers_restore_and_no_save_or_apply(shop):
    product = shop.add_product("Old Jam", stock=3)
    shop.delete(f"/api/products/{product['id']}")
    html = page(shop, product["id"])
    assert "Restore product" in html
    assert ">Save<" not in html and ">Apply<" not in html and "Archive product" not in html
    token = _token(shop.http, f"/retail/products/{product['id']}/edit")
    restored = shop.http.post(f"/retail/products/{product['id']}/restore", data={"csrf_token": token})
    assert restored.status_code == 303
    body = shop.get(f"/api/products/{product['id']}").get_json()
    assert body["active"] is True and body["status"] == "low"
    html = page(shop, product["id"])
    assert ">Save<" in html and ">Apply<" in html and "Restore product" not in html


def test_restore_through_the_api_is_patch_active_true_and_alerts_again(shop):
    product = shop.add_product("Old Jam", stock=3)
    shop.delete(f"/api/products/{product['id']}")
    response = shop.patch(f"/api/products/{product['id']}", json={"active": True})
    assert response.status_code == 200
    assert response.get_json()["active"] is True and response.get_json()["status"] == "low"
    assert any(p["id"] == product["id"] for p in shop.get("/api/products").get_json()["items"])


def test_staff_cannot_restore_from_the_page(shop):
    product = shop.add_product("Old Jam", stock=3)
    shop.delete(f"/api/products/{product['id']}")
    staff = shop.add_user("staff@example.com")
    assert "Restore product" not in page(staff, product["id"])
    token = _token(staff.http, f"/retail/products/{product['id']}/edit")
    staff.http.post(f"/retail/products/{product['id']}/restore", data={"csrf_token": token})
    assert shop.get(f"/api/products/{product['id']}").get_json()["active"] is False


def test_another_shops_product_page_and_restore_are_404(shop, other_shop):
    product = other_shop.add_product("Secret", stock=3)
    assert shop.get(f"/retail/products/{product['id']}/edit").status_code == 404
    token = _token(shop.http, "/retail/products")
    assert shop.http.post(f"/retail/products/{product['id']}/restore", data={"csrf_token": token}).status_code == 404
