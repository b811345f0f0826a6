"""Locations (API.md, "Locations"): a shop of one location answers as before; a shop of two stores
alerts per place, names the place, suggests a transfer, moves stock atomically and resolves per
place; people and tokens bound to a place see and change only that place."""
import pytest

from modules.alerts.models import StockAlert, StockAlertLog
from modules.extensions import db
from tests.support.shops import till


def place(shop, name, kind="store"):
    response = shop.post("/api/locations", json={"name": name, "kind": kind})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def main_of(shop):
    [main] = [loc for loc in shop.get("/api/locations").get_json()["items"] if loc["is_default"]]
    return main


def change(shop, product, location, **body):
    response = shop.post(f"/api/products/{product['id']}/stock",
                         json={"reason": body.pop("reason", "sale"), "location_id": location["id"], **body})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def put(shop, url, body):
    return shop.http.put(url, json=body, headers={"X-CSRFToken": shop.csrf})


def bell(client):
    return client.get("/api/notifications?limit=100").get_json()["items"]


@pytest.fixture
def two_stores(shop):
    """Downtown (the default, renamed from Main) and Uptown; Milk (Dairy) carried at both."""
    downtown = main_of(shop)
    assert shop.patch(f"/api/locations/{downtown['id']}", json={"name": "Downtown"}).status_code == 200
    downtown["name"] = "Downtown"
    uptown = place(shop, "Uptown")
    milk = shop.add_product("Milk", stock=40, category="Dairy")  # at Downtown, the default
    change(shop, milk, uptown, delta=8, reason="delivery")
    return shop, downtown, uptown, milk


def test_a_shop_of_one_location_answers_as_before(shop):
    main = main_of(shop)
    assert main == {"id": main["id"], "name": "Main", "kind": "store", "is_default": True, "active": True}
    milk = shop.add_product("Milk", stock=10, category="Dairy")
    assert milk["stock"] == 10 and milk["threshold_source"] == "shop"
    assert milk["locations"] == [{"location": {"id": main["id"], "name": "Main"}, "stock": 10,
                                  "low_stock_threshold": None, "effective_threshold": 5, "threshold_source": "shop",
                                  "status": "ok", "days_left": None}]
    body = shop.post(f"/api/products/{milk['id']}/stock", json={"delta": -8, "reason": "sale"}).get_json()
    assert body["alert"]["message"] == "Low Stock Alert: Milk - Only 2 remaining (Dairy)"  # no place named
    assert body["alert"]["location"] == {"id": main["id"], "name": "Main"}
    assert body["alert"]["suggestion"] is None
    assert [n["message"] for n in bell(shop)] == ["Low Stock Alert: Milk - Only 2 remaining (Dairy)"]


def test_two_stores_alert_once_at_each_naming_each_and_suggest_a_transfer(two_stores):
    shop, downtown, uptown, milk = two_stores
    body = change(shop, milk, uptown, delta=-6)  # Uptown: 2 left
    assert body["alert"]["message"] == "Low Stock Alert: Milk - Only 2 remaining (Dairy) at Uptown"
    # Downtown holds 40 against a threshold of 5: it can spare 35.
    assert body["alert"]["suggestion"] == {"from_location": {"id": downtown["id"], "name": "Downtown"}, "spare": 35}
    assert body["product"]["stock"] == 42
    at = {e["location"]["name"]: e for e in body["product"]["locations"]}
    assert (at["Downtown"]["stock"], at["Uptown"]["stock"], at["Uptown"]["status"]) == (40, 2, "low")
    # Low at Downtown too: one more alert, at Downtown; nothing new at Uptown the same day.
    change(shop, milk, downtown, delta=-37)
    change(shop, milk, uptown, delta=-1)
    messages = [n["message"] for n in bell(shop)]
    assert sorted(messages) == ["Low Stock Alert: Milk - Only 2 remaining (Dairy) at Uptown",
                                "Low Stock Alert: Milk - Only 3 remaining (Dairy) at Downtown"]
    assert db.session.query(StockAlertLog).count() == 2


def test_a_transfer_moves_stock_once_and_restocking_uptown_resolves_uptown_only(two_stores):
    shop, downtown, uptown, milk = two_stores
    change(shop, milk, uptown, delta=-6)  # Uptown 2: low
    change(shop, milk, downtown, delta=-36)  # Downtown 4: low
    response = shop.post("/api/transfers", json={"product_id": milk["id"], "from_location_id": downtown["id"],
                                                 "to_location_id": uptown["id"], "quantity": 5})
    assert response.status_code == 409  # Downtown holds 4: refused whole
    assert shop.get(f"/api/products/{milk['id']}").get_json()["stock"] == 6
    change(shop, milk, downtown, delta=30, reason="delivery")  # Downtown 34: its episode resolves
    response = shop.post("/api/transfers", json={"sku": "MILK", "product_id": milk["id"],
                                                 "from_location_id": downtown["id"], "to_location_id": uptown["id"],
                                                 "quantity": 10})
    assert response.status_code == 400  # sku and product_id both named
    response = shop.post("/api/transfers", json={"product_id": milk["id"], "from_location_id": uptown["id"],
                                                 "to_location_id": uptown["id"], "quantity": 1})
    assert response.status_code == 400  # to itself
    response = shop.post("/api/transfers", json={"product_id": milk["id"], "from_location_id": downtown["id"],
                                                 "to_location_id": uptown["id"], "quantity": 10, "note": "Van run"})
    assert response.status_code == 201, response.get_json()
    moved = response.get_json()
    assert (moved["from_location"], moved["to_location"], moved["quantity"]) == (
        {"id": downtown["id"], "name": "Downtown"}, {"id": uptown["id"], "name": "Uptown"}, 10)
    at = {e["location"]["name"]: e["stock"] for e in moved["product"]["locations"]}
    assert at == {"Downtown": 24, "Uptown": 12} and moved["product"]["stock"] == 36
    movements = shop.get(f"/api/products/{milk['id']}/movements").get_json()["items"]
    assert [(m["reason"], m["delta"], m["location"]["name"]) for m in movements[:2]] == [
        ("transfer_in", 10, "Uptown"), ("transfer_out", -10, "Downtown")]
    assert [t["id"] for t in shop.get("/api/transfers").get_json()["items"]] == [moved["id"]]
    episodes = {a.location_id: a.resolved_at for a in db.session.query(StockAlert).all()}
    assert episodes[uptown["id"]] is not None and episodes[downtown["id"]] is not None
    # Low again at Uptown, then restocked there: Uptown's episode resolves, Downtown's stays.
    change(shop, milk, uptown, delta=-10)
    change(shop, milk, downtown, delta=-20)
    db.session.expire_all()
    open_at = {a.location_id for a in db.session.query(StockAlert).filter(StockAlert.resolved_at.is_(None))}
    assert open_at == {uptown["id"], downtown["id"]}
    change(shop, milk, uptown, delta=20, reason="delivery")
    db.session.expire_all()
    open_at = {a.location_id for a in db.session.query(StockAlert).filter(StockAlert.resolved_at.is_(None))}
    assert open_at == {downtown["id"]}
    alerts = shop.get("/api/alerts").get_json()["items"]
    assert [a["location"]["name"] for a in alerts] == ["Downtown"]


def test_thresholds_per_location_come_first(two_stores):
    shop, downtown, uptown, milk = two_stores
    response = put(shop, f"/api/products/{milk['id']}/locations/{uptown['id']}", {"low_stock_threshold": 10})
    assert response.status_code == 200, response.get_json()
    at = {e["location"]["name"]: e for e in response.get_json()["locations"]}
    assert (at["Uptown"]["effective_threshold"], at["Uptown"]["threshold_source"], at["Uptown"]["status"]) == (
        10, "location", "low")
    assert at["Downtown"]["threshold_source"] == "shop"
    # Uptown at 8 is low against its own 10: the change raised it.
    assert [n["message"] for n in bell(shop)] == ["Low Stock Alert: Milk - Only 8 remaining (Dairy) at Uptown"]
    listed = shop.get(f"/api/products?location_id={uptown['id']}&stock=low").get_json()
    assert [(p["name"], p["stock"], p["threshold_source"]) for p in listed["items"]] == [("Milk", 8, "location")]
    assert shop.get(f"/api/products?location_id={downtown['id']}&stock=low").get_json()["total"] == 0
    assert put(shop, f"/api/products/{milk['id']}/locations/{uptown['id']}", {"low_stock_threshold": -1}
               ).status_code == 400


def test_a_manager_limited_to_uptown_and_a_downtown_token(two_stores, app):
    shop, downtown, uptown, milk = two_stores
    manager = shop.add_user("uptown@example.com", "manager")
    response = shop.patch(f"/api/users/{manager.user['id']}", json={"location_ids": [uptown["id"]]})
    assert response.status_code == 200 and response.get_json()["location_ids"] == [uptown["id"]]
    assert manager.get(f"/api/locations/{downtown['id']}").status_code == 404
    assert [loc["name"] for loc in manager.get("/api/locations").get_json()["items"]] == ["Uptown"]
    assert manager.get(f"/api/products?location_id={downtown['id']}").status_code == 404
    seen = manager.get(f"/api/products/{milk['id']}").get_json()
    assert seen["stock"] == 8 and [e["location"]["name"] for e in seen["locations"]] == ["Uptown"]
    assert manager.post(f"/api/products/{milk['id']}/stock",
                        json={"delta": -1, "reason": "sale", "location_id": downtown["id"]}).status_code == 404
    # Without a location, their change goes to their only place.
    body = manager.post(f"/api/products/{milk['id']}/stock", json={"delta": -5, "reason": "sale"}).get_json()
    assert body["product"]["stock"] == 3
    change(shop, milk, downtown, delta=-37)  # Downtown low too: the manager does not hear it
    assert [n["message"] for n in bell(manager)] == ["Low Stock Alert: Milk - Only 3 remaining (Dairy) at Uptown"]
    assert len(bell(shop)) == 2
    movements = manager.get(f"/api/products/{milk['id']}/movements").get_json()["items"]
    assert {m["location"]["name"] for m in movements} == {"Uptown"}
    # A Downtown-bound token changes Downtown's stock, never Uptown's.
    response = shop.post("/api/tokens", json={"name": "Downtown till", "scope": "stock", "location_id": downtown["id"]})
    assert response.status_code == 201 and response.get_json()["location_id"] == downtown["id"]
    token = till(app, response.get_json()["token"])
    refused = token.post(f"/api/products/{milk['id']}/stock",
                         json={"delta": -1, "reason": "sale", "location_id": uptown["id"]})
    assert refused.status_code == 403
    batch = token.post("/api/stock/batch", json={"changes": [{"product_id": milk["id"], "delta": -1, "reason": "sale",
                                                             "location_id": uptown["id"]}]})
    assert batch.status_code == 403
    ok = token.post("/api/stock/batch", json={"changes": [{"product_id": milk["id"], "delta": -1, "reason": "sale"}]})
    assert ok.status_code == 200 and ok.get_json()["products"] == [{"id": milk["id"], "stock": 5}]
    at = {e["location"]["name"]: e["stock"] for e in shop.get(f"/api/products/{milk['id']}").get_json()["locations"]}
    assert at == {"Downtown": 2, "Uptown": 3}


def test_locations_are_the_shops_own_and_keep_their_rules(two_stores, other_shop):
    shop, downtown, uptown, milk = two_stores
    theirs = main_of(other_shop)
    assert shop.get(f"/api/locations/{theirs['id']}").status_code == 404
    assert shop.patch(f"/api/locations/{theirs['id']}", json={"name": "Mine"}).status_code == 404
    assert shop.post(f"/api/products/{milk['id']}/stock",
                     json={"delta": 1, "reason": "delivery", "location_id": theirs["id"]}).status_code == 404
    assert shop.post("/api/transfers", json={"product_id": milk["id"], "from_location_id": theirs["id"],
                                             "to_location_id": uptown["id"], "quantity": 1}).status_code == 404
    assert shop.get(f"/api/products?location_id={theirs['id']}").status_code == 404
    assert shop.get(f"/api/products/export.csv?location_id={theirs['id']}").status_code == 404
    assert shop.post("/api/locations", json={"name": "uptown"}).status_code == 409  # names unique in any case
    assert shop.post("/api/locations", json={"name": "Back room", "kind": "cellar"}).status_code == 400
    assert shop.patch(f"/api/locations/{uptown['id']}", json={"active": False}).status_code == 409  # holds 8
    assert shop.patch(f"/api/locations/{downtown['id']}", json={"active": False}).status_code == 409  # the default
    room = place(shop, "Back room", "stockroom")
    assert shop.patch(f"/api/locations/{room['id']}", json={"active": False}).get_json()["active"] is False
    made = shop.patch(f"/api/locations/{uptown['id']}", json={"is_default": True}).get_json()
    assert made["is_default"] and not shop.get(f"/api/locations/{downtown['id']}").get_json()["is_default"]
    staff = shop.add_user("staff@example.com", "staff")
    assert staff.post("/api/locations", json={"name": "Kiosk"}).status_code == 403


def test_a_batch_and_a_csv_at_a_location(two_stores):
    shop, downtown, uptown, milk = two_stores
    response = shop.post("/api/stock/batch", json={"changes": [
        {"product_id": milk["id"], "delta": -3, "reason": "sale", "location_id": uptown["id"]},
        {"product_id": milk["id"], "quantity": 30, "reason": "count", "location_id": downtown["id"]}]})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["products"] == [{"id": milk["id"], "stock": 35}]
    csv = shop.get(f"/api/products/export.csv?location_id={uptown['id']}").get_data(as_text=True)
    assert csv.splitlines()[1].startswith("Milk,,Dairy,5,")
    body = "name,sku,category,stock,low_stock_threshold,active\r\nMilk,,Dairy,9,3,true\r\nOats,OAT,,4,,true\r\n"
    from io import BytesIO
    response = shop.post(f"/api/products/import?location_id={uptown['id']}",
                         data={"file": (BytesIO(body.encode()), "p.csv")}, content_type="multipart/form-data")
    assert response.status_code == 200, response.get_json()
    products = {p["name"]: p for p in shop.get("/api/products").get_json()["items"]}
    # The file named no SKU for Milk, so it is a new Milk; Oats is carried at Uptown only.
    oats = products["Oats"]
    assert [(e["location"]["name"], e["stock"]) for e in oats["locations"]] == [("Uptown", 4)]
    assert oats["stock"] == 4


def test_a_locations_own_recipients_hear_its_alerts_only(two_stores):
    from tests.support.deliveries import configure, delivery_rows

    shop, downtown, uptown, milk = two_stores
    configure(shop, email_enabled=True, email_recipients=["owner@example.com"])
    url = f"/api/locations/{uptown['id']}/recipients"
    assert shop.put(url, {"email_recipients": ["owner@example.com"]}).status_code == 409  # on the shop's list
    assert shop.put(url, {"email_recipients": ["not an address"]}).status_code == 400
    assert shop.put(url, {"pager": ["x"]}).status_code == 400
    response = shop.put(url, {"email_recipients": ["uptown@example.com"]})
    assert response.status_code == 200, response.get_json()
    assert shop.get(url).get_json()["email_recipients"] == ["uptown@example.com"]
    assert shop.get(f"/api/locations/{downtown['id']}/recipients").get_json()["email_recipients"] == []
    # The shop's settings still show its own list only.
    assert shop.get("/api/notifications/settings").get_json()["email_recipients"] == ["owner@example.com"]
    change(shop, milk, uptown, delta=-6)  # low at Uptown
    change(shop, milk, downtown, delta=-37)  # low at Downtown
    sent = sorted((row.recipient, row.payload["items"][0]["location"]["name"]) for row in delivery_rows())
    assert sent == [("owner@example.com", "Downtown"), ("owner@example.com", "Uptown"),
                    ("uptown@example.com", "Uptown")]
    staff = shop.add_user("staff@example.com", "staff")
    assert staff.get(url).status_code == 403


def test_the_digest_lists_a_product_once_per_place_naming_each(two_stores):
    from datetime import timedelta

    from modules.delivery.digest import digest_items
    from modules.timeutil import utcnow

    shop, downtown, uptown, milk = two_stores
    change(shop, milk, uptown, delta=-6)  # Uptown 2: low
    change(shop, milk, downtown, delta=-40)  # Downtown 0: out
    items = digest_items(shop.client["id"], utcnow() - timedelta(hours=1), utcnow() + timedelta(seconds=1))
    assert sorted(i.headline for i in items) == ["Low Stock Alert: Milk - Only 2 remaining (Dairy) at Uptown",
                                                 "Out of Stock: Milk (Dairy) at Downtown"]
    assert {i.location["name"]: i.stock for i in items} == {"Uptown": 2, "Downtown": 0}


def test_a_purchase_order_is_received_at_its_location(two_stores):
    shop, downtown, uptown, milk = two_stores
    supplier = shop.post("/api/suppliers", json={"name": "Dairy Co", "email": "orders@dairy.example", "lead_time_days": 2}).get_json()
    body = {"supplier_id": supplier["id"], "location_id": uptown["id"],
            "lines": [{"product_id": milk["id"], "quantity": 12}]}
    order = shop.post("/api/purchase-orders", json=body).get_json()
    assert order["location"] == {"id": uptown["id"], "name": "Uptown"}
    assert shop.post(f"/api/purchase-orders/{order['id']}/send", json={}).status_code == 202
    response = shop.post(f"/api/purchase-orders/{order['id']}/receive",
                         json={"lines": [{"product_id": milk["id"], "quantity": 12}]})
    assert response.status_code == 200, response.get_json()
    at = {e["location"]["name"]: e["stock"] for e in shop.get(f"/api/products/{milk['id']}").get_json()["locations"]}
    assert at == {"Downtown": 40, "Uptown": 20}
    theirs = dict(body, location_id=999999)
    assert shop.post("/api/purchase-orders", json=theirs).status_code == 404


def test_the_stock_value_of_one_location(two_stores):
    shop, downtown, uptown, milk = two_stores
    assert shop.patch(f"/api/products/{milk['id']}", json={"cost_price": "1.50"}).status_code == 200
    assert shop.get("/api/reports/stock-value").get_json()["cost"] == "72.00"  # 48 in the shop
    assert shop.get(f"/api/reports/stock-value?location_id={uptown['id']}").get_json()["cost"] == "12.00"
    assert shop.get("/api/reports/stock-value?location_id=999999").status_code == 404
