"""The reorder list per location (API.md, "Reorder" and "Locations"): an item is a product at a place
that carries it, with that place's stock, threshold, sales and orders; ?location_id= filters, a
person limited to some places sees theirs only, an order from the list is that place's, and the
list agrees with the `reorder` alert place by place."""
from datetime import timedelta

import pytest

from modules.alerts.service import raise_alerts
from modules.extensions import db
from modules.purchasing.reorder import reorder_items
from modules.timeutil import utcnow
from tests.support.app import statements_of
from tests.support.purchasing import WINDOW, add_supplier, main_location, reorder_list


def change(shop, product, location, delta, reason):
    response = shop.post(f"/api/products/{product['id']}/stock",
                         json={"delta": delta, "reason": reason, "location_id": location["id"]})
    assert response.status_code == 200, response.get_json()


def sells_at(shop, product, location, stock_after, daily_rate):
    """`product` left with `stock_after` at `location` after selling `daily_rate` a day there."""
    sold = daily_rate * WINDOW
    change(shop, product, location, stock_after + sold, "delivery")
    change(shop, product, location, -sold, "sale")


def send_order(shop, supplier, location, product, quantity):
    order = shop.post("/api/purchase-orders", json={"supplier_id": supplier["id"], "location_id": location["id"],
                                                    "lines": [{"product_id": product["id"], "quantity": quantity}]})
    assert order.status_code == 201, order.get_json()
    assert shop.post(f"/api/purchase-orders/{order.get_json()['id']}/send", json={}).status_code == 202


@pytest.fixture
def two_stores(shop):
    """Downtown (the default, renamed from Main) and Uptown, Dairy Co (7 days) and Bakery (2 days):
    Milk sells 10 a day Downtown (45 left) and 1 a day Uptown (72 left, its threshold there 80);
    Cream sells 10 a day at both (45 left each), with 30 on a sent order to Uptown; Bread is low
    Downtown and not carried Uptown."""
    downtown = main_location(shop)
    assert shop.patch(f"/api/locations/{downtown['id']}", json={"name": "Downtown"}).status_code == 200
    downtown["name"] = "Downtown"
    response = shop.post("/api/locations", json={"name": "Uptown"})
    assert response.status_code == 201, response.get_json()
    uptown = {"id": response.get_json()["id"], "name": "Uptown"}
    dairy = add_supplier(shop)
    bakery = add_supplier(shop, name="Bakery", email="orders@bakery.example", lead_time_days=2)
    milk = shop.add_product("Milk", stock=0, category="Dairy", supplier_id=dairy["id"])
    cream = shop.add_product("Cream", stock=0, category="Dairy", supplier_id=dairy["id"])
    bread = shop.add_product("Bread", stock=3, supplier_id=bakery["id"])
    sells_at(shop, milk, downtown, 45, 10)
    sells_at(shop, milk, uptown, 72, 1)
    response = shop.put(f"/api/products/{milk['id']}/locations/{uptown['id']}", json={"low_stock_threshold": 80})
    assert response.status_code == 200, response.get_json()
    send_order(shop, dairy, uptown, cream, 30)  # before it sells there: no `reorder` for it today
    for place in (downtown, uptown):
        sells_at(shop, cream, place, 45, 10)
    return dict(shop=shop, downtown=downtown, uptown=uptown, dairy=dairy, bakery=bakery, milk=milk, cream=cream,
                bread=bread)


def rows(items):
    return [(i["product"]["name"], i["location"]["name"], i["stock"], i["on_order"], i["reorder_point"],
             i["days_left"], i["suggested_quantity"]) for i in items]


def test_each_place_is_an_item_with_its_own_stock_threshold_sales_and_orders(two_stores):
    shop = two_stores["shop"]
    items = reorder_list(shop)
    assert rows(items) == [
        ("Bread", "Downtown", 3, 0, 5, None, 7),  # Bakery first; no Bread Uptown: not carried there
        ("Cream", "Downtown", 45, 0, 70, 4, 95),  # Uptown's Cream: 45 + 30 on order > 70
        ("Milk", "Downtown", 45, 0, 70, 4, 95),  # 10 a day x 7 days
        ("Milk", "Uptown", 72, 0, 80, 72, 88),  # its threshold there; 1 a day
    ]
    assert [i["supplier"]["name"] for i in items] == ["Bakery", "Dairy Co", "Dairy Co", "Dairy Co"]
    assert items[3]["location"] == two_stores["uptown"]


def test_an_order_sent_to_one_place_counts_as_on_order_there_only(two_stores):
    shop, uptown = two_stores["shop"], two_stores["uptown"]
    send_order(shop, two_stores["dairy"], two_stores["downtown"], two_stores["cream"], 10)
    cream = [i for i in reorder_list(shop) if i["product"]["name"] == "Cream"]
    assert rows(cream) == [("Cream", "Downtown", 45, 10, 70, 4, 85)]
    send_order(shop, two_stores["dairy"], uptown, two_stores["milk"], 20)
    assert rows(reorder_list(shop, f"?location_id={uptown['id']}")) == []  # 72 + 20 > 80


def test_location_id_filters_to_that_place(two_stores):
    shop, uptown, downtown = two_stores["shop"], two_stores["uptown"], two_stores["downtown"]
    [milk] = reorder_list(shop, f"?location_id={uptown['id']}")
    assert (milk["product"]["name"], milk["location"], milk["stock"]) == ("Milk", uptown, 72)
    assert milk["product"]["stock"] == 72  # the product as that place shows it
    assert [i["product"]["name"] for i in reorder_list(shop, f"?location_id={downtown['id']}")] == [
        "Bread", "Cream", "Milk"]
    dairy = two_stores["dairy"]["id"]
    assert [i["product"]["name"] for i in reorder_list(shop, f"?location_id={downtown['id']}&supplier_id={dairy}")
            ] == ["Cream", "Milk"]


def test_another_shops_location_is_a_404_and_a_bad_id_a_400(two_stores, other_shop):
    shop = two_stores["shop"]
    theirs = main_location(other_shop)
    assert shop.get(f"/api/reorder?location_id={theirs['id']}").status_code == 404
    response = shop.post("/api/purchase-orders/from-reorder",
                         json={"supplier_id": two_stores["dairy"]["id"], "location_id": theirs["id"]})
    assert response.status_code == 404
    assert shop.get("/api/reorder?location_id=0").status_code == 400
    assert reorder_list(other_shop) == []


def test_a_manager_limited_to_a_place_sees_and_orders_only_there(two_stores):
    shop, uptown, downtown = two_stores["shop"], two_stores["uptown"], two_stores["downtown"]
    manager = shop.add_user("uptown@example.com", role="manager")
    assert shop.patch(f"/api/users/{manager.user['id']}", json={"location_ids": [uptown["id"]]}).status_code == 200
    [milk] = reorder_list(manager)
    assert (milk["location"], milk["stock"], milk["suggested_quantity"]) == (uptown, 72, 88)
    assert milk["product"]["stock"] == 72  # Downtown's stock is not shown to them
    assert manager.get(f"/api/reorder?location_id={downtown['id']}").status_code == 404
    dairy = two_stores["dairy"]["id"]
    response = manager.post("/api/purchase-orders/from-reorder", json={"supplier_id": dairy,
                                                                       "location_id": downtown["id"]})
    assert response.status_code == 404
    order = manager.post("/api/purchase-orders/from-reorder", json={"supplier_id": dairy})  # their only place
    assert order.status_code == 201, order.get_json()
    assert order.get_json()["location"] == uptown
    assert [(line["product"]["name"], line["quantity"]) for line in order.get_json()["lines"]] == [("Milk", 88)]
    assert len(reorder_list(shop)) == 4  # the owner sees every place


def test_a_manager_of_several_places_without_the_default_names_the_place_to_order_for(two_stores):
    shop, uptown = two_stores["shop"], two_stores["uptown"]
    annex = shop.post("/api/locations", json={"name": "Annex"}).get_json()
    manager = shop.add_user("two@example.com", role="manager")
    response = shop.patch(f"/api/users/{manager.user['id']}", json={"location_ids": [uptown["id"], annex["id"]]})
    assert response.status_code == 200
    dairy = two_stores["dairy"]["id"]
    response = manager.post("/api/purchase-orders/from-reorder", json={"supplier_id": dairy})
    assert response.status_code == 400 and "location_id" in response.get_json()["details"]
    response = manager.post("/api/purchase-orders/from-reorder", json={"supplier_id": dairy, "location_id": uptown["id"]})
    assert response.status_code == 201 and response.get_json()["location"] == uptown


def test_the_list_is_one_statement_whatever_the_number_of_places_and_products(app, two_stores):
    shop = two_stores["shop"]
    response = shop.post("/api/locations", json={"name": "Annex"})
    for n in range(5):
        product = shop.add_product(f"Yoghurt {n}", stock=0, supplier_id=two_stores["dairy"]["id"])
        for place in (two_stores["uptown"], response.get_json()):
            change(shop, product, place, 1, "delivery")
    items = []
    statements = statements_of(app, lambda: items.extend(reorder_items(shop.client["id"])))
    assert len(items) == 4 + 5 * 3  # each Yoghurt at three places: 0 or 1, at or below 5
    assert len([s for s in statements if "product_stock" in s]) == 1
    assert len(statements) <= 4  # the shop's window, whether its stored windows are current, its threshold; the list


def test_from_reorder_drafts_the_places_lines_and_receives_there(two_stores):
    shop, uptown, downtown = two_stores["shop"], two_stores["uptown"], two_stores["downtown"]
    dairy, bakery = two_stores["dairy"]["id"], two_stores["bakery"]["id"]
    response = shop.post("/api/purchase-orders/from-reorder", json={"supplier_id": dairy, "location_id": uptown["id"]})
    assert response.status_code == 201, response.get_json()
    order = response.get_json()
    assert order["location"] == uptown
    assert [(line["product"]["name"], line["quantity"]) for line in order["lines"]] == [("Milk", 88)]
    default = shop.post("/api/purchase-orders/from-reorder", json={"supplier_id": dairy}).get_json()
    assert default["location"] == downtown  # the shop's default
    assert [(line["product"]["name"], line["quantity"]) for line in default["lines"]] == [("Cream", 95), ("Milk", 95)]
    response = shop.post("/api/purchase-orders/from-reorder", json={"supplier_id": bakery, "location_id": uptown["id"]})
    assert response.status_code == 400  # nothing of Bakery's at Uptown
    assert shop.post(f"/api/purchase-orders/{order['id']}/send", json={}).status_code == 202
    assert [i["location"]["name"] for i in reorder_list(shop) if i["product"]["name"] == "Milk"] == ["Downtown"]


def test_the_list_agrees_with_the_reorder_alert_place_by_place(two_stores):
    shop = two_stores["shop"]
    items = {(i["product"]["id"], i["location"]["id"]): i for i in reorder_list(shop)}
    new = raise_alerts(shop.client["id"], now=utcnow() + timedelta(days=1))
    db.session.commit()
    alerted = {(a.product_id, a.location_id): a for a in new if a.kind == "reorder"}
    downtown = two_stores["downtown"]["id"]
    # Order now where the place sells and runs out within the lead time; Milk Uptown is low there
    # (its own alert says so), Bread sells nothing and Cream Uptown is covered by its order.
    assert set(alerted) == {(two_stores["milk"]["id"], downtown), (two_stores["cream"]["id"], downtown)}
    for key, alert in alerted.items():
        assert (alert.threshold, alert.days_left) == (items[key]["reorder_point"], items[key]["days_left"])
    bell = [n["message"] for n in shop.get("/api/notifications?limit=100").get_json()["items"]
            if n["kind"] == "reorder"]
    assert "Order Now: Milk - about 4 days left, Dairy Co needs 7 days (Dairy) at Downtown" in bell
    assert not [m for m in bell if m.endswith("at Uptown")]


def test_the_reorder_page_names_places_and_drafts_per_supplier_and_place(two_stores):
    shop, uptown = two_stores["shop"], two_stores["uptown"]
    html = shop.get("/reorder").get_data(as_text=True)
    assert "<th>Location</th>" in html
    assert html.count("Draft an order for Downtown") == 2 and html.count("Draft an order for Uptown") == 1
    response = shop.http.post("/reorder/draft", data={"csrf_token": shop.csrf, "supplier_id": two_stores["dairy"]["id"],
                                                      "location_id": uptown["id"]})
    assert response.status_code == 303
    order_id = int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    order = shop.get(f"/api/purchase-orders/{order_id}").get_json()
    assert order["location"] == uptown and [line["quantity"] for line in order["lines"]] == [88]
    # The header's switch on Uptown: that place's list, without the column.
    assert shop.http.post("/retail/location", data={"csrf_token": shop.csrf, "location_id": uptown["id"]}
                          ).status_code == 303
    html = shop.get("/reorder").get_data(as_text=True)
    assert "<th>Location</th>" not in html and "Milk" in html and "Cream" not in html


def test_an_order_by_a_manager_limited_to_a_place_is_received_there_unless_they_name_another_of_theirs(two_stores):
    """POST /api/purchase-orders without location_id: the caller's only place, not the shop's
    default they may not see; with several places, the default not among them, they name one."""
    shop, uptown = two_stores["shop"], two_stores["uptown"]
    dairy = two_stores["dairy"]["id"]
    [milk] = [p for p in shop.get("/api/products").get_json()["items"] if p["name"] == "Milk"]
    body = {"supplier_id": dairy, "lines": [{"product_id": milk["id"], "quantity": 12}]}
    manager = shop.add_user("uptown@example.com", role="manager")
    assert shop.patch(f"/api/users/{manager.user['id']}", json={"location_ids": [uptown["id"]]}).status_code == 200
    order = manager.post("/api/purchase-orders", json=body)
    assert order.status_code == 201, order.get_json()
    assert order.get_json()["location"] == uptown
    annex = shop.post("/api/locations", json={"name": "Annex"}).get_json()
    assert shop.patch(f"/api/users/{manager.user['id']}",
                      json={"location_ids": [uptown["id"], annex["id"]]}).status_code == 200
    before = len(shop.get("/api/purchase-orders").get_json()["items"])
    response = manager.post("/api/purchase-orders", json=body)
    assert response.status_code == 400 and "location_id" in response.get_json()["details"]
    assert len(shop.get("/api/purchase-orders").get_json()["items"]) == before  # nothing drafted
    response = manager.post("/api/purchase-orders", json={**body, "location_id": annex["id"]})
    assert response.status_code == 201 and response.get_json()["location"]["name"] == "Annex"
    assert shop.post("/api/purchase-orders", json=body).get_json()["location"] == two_stores["downtown"]
