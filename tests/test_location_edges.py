"""Locations at their edges (API.md, "Locations", "Reorder" and the JSON API's conventions): what a
place carries survives a CSV round-trip, an inactive place takes no delivery, a person limited to
some places sees, stocks, counts, values, orders and resolves only there, a location is never
patched with an empty name, and an id past the integer range is a 404 whatever the method."""
import re
from io import BytesIO

import pytest

from modules.validation import digits_up_to
from tests.support.purchasing import add_supplier
from tests.support.shops import add_location, default_location


def import_csv(shop, text, location_id):
    return shop.post(f"/api/products/import?location_id={location_id}",
                     data={"file": (BytesIO(text.encode()), "products.csv")}, content_type="multipart/form-data")


def carried_at(shop, product):
    shown = shop.get(f"/api/products/{product['id']}").get_json()
    return {e["location"]["name"]: e["stock"] for e in shown["locations"]}


def test_a_locations_csv_imported_back_changes_nothing_where_it_did_not_carry_the_product(shop):
    uptown = add_location(shop, "Uptown")
    milk = shop.add_product("Milk", stock=10, sku="MILK")  # carried at Main only
    exported = shop.get(f"/api/products/export.csv?location_id={uptown}").get_data(as_text=True)
    assert exported.splitlines()[1].startswith("Milk,MILK,,0,,")
    response = import_csv(shop, exported, uptown)
    assert response.status_code == 200, response.get_json()
    assert carried_at(shop, milk) == {"Main": 10}  # Uptown does not carry it, so it is not out there
    assert shop.get("/api/alerts").get_json()["items"] == []
    assert shop.get(f"/api/products/export.csv?location_id={uptown}").get_data(as_text=True) == exported


def test_an_order_for_a_place_made_inactive_is_not_received_and_nothing_moves(shop):
    """A product's stock is the sum over active places: a delivery into an inactive one would
    count in no place the shop sees."""
    kiosk = add_location(shop, "Kiosk")
    supplier = add_supplier(shop)
    milk = shop.add_product("Milk", stock=2, supplier_id=supplier["id"])
    order = shop.post("/api/purchase-orders", json={"supplier_id": supplier["id"], "location_id": kiosk,
                                                    "lines": [{"product_id": milk["id"], "quantity": 5}]}).get_json()
    assert shop.post(f"/api/purchase-orders/{order['id']}/send", json={}).status_code == 202
    assert shop.patch(f"/api/locations/{kiosk}", json={"active": False}).status_code == 200  # it holds nothing
    response = shop.post(f"/api/purchase-orders/{order['id']}/receive",
                         json={"lines": [{"product_id": milk["id"], "quantity": 5}]})
    assert response.status_code == 409, response.get_json()
    assert "Kiosk" in response.get_json()["error"]
    assert shop.get(f"/api/purchase-orders/{order['id']}").get_json()["status"] == "sent"
    shown = shop.get(f"/api/products/{milk['id']}").get_json()
    assert shown["stock"] == 2 and carried_at(shop, milk) == {"Main": 2}
    moves = shop.get(f"/api/products/{milk['id']}/movements").get_json()["items"]
    assert [m["reason"] for m in moves] == ["initial"]
    # Active again, it takes the delivery.
    assert shop.patch(f"/api/locations/{kiosk}", json={"active": True}).status_code == 200
    response = shop.post(f"/api/purchase-orders/{order['id']}/receive",
                         json={"lines": [{"product_id": milk["id"], "quantity": 5}]})
    assert response.status_code == 200 and response.get_json()["status"] == "received"
    assert carried_at(shop, milk) == {"Main": 2, "Kiosk": 5}


def test_a_product_made_with_stock_by_a_person_limited_to_one_place_is_stocked_there(shop):
    """Its opening stock is a stock change: it goes where theirs go (their only place), never to
    the default they cannot see."""
    uptown = add_location(shop, "Uptown")
    manager = shop.add_user("uptown@example.com", "manager")
    assert shop.patch(f"/api/users/{manager.user['id']}", json={"location_ids": [uptown]}).status_code == 200
    made = manager.add_product("Eggs", stock=7)
    assert made["stock"] == 7 and [(e["location"]["id"], e["stock"]) for e in made["locations"]] == [(uptown, 7)]
    assert carried_at(shop, made) == {"Uptown": 7}
    response = manager.http.post("/retail/products/new", data={"csrf_token": manager.csrf, "name": "Flour",
                                                               "stock": "4"})
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    [flour] = [p for p in shop.get("/api/products?q=Flour").get_json()["items"]]
    assert carried_at(shop, flour) == {"Uptown": 4}
    # The owner's own products still start at the default.
    assert carried_at(shop, shop.add_product("Milk", stock=3)) == {"Main": 3}
    # A person of several places, the default not among them: the first of theirs, as a CSV.
    kiosk = add_location(shop, "Kiosk")
    assert shop.patch(f"/api/users/{manager.user['id']}", json={"location_ids": [uptown, kiosk]}).status_code == 200
    assert carried_at(shop, manager.add_product("Salt", stock=2)) == {"Uptown": 2}


@pytest.fixture
def uptown_manager(shop):
    """Milk low at Main and at Uptown, and a manager limited to Uptown: (shop, manager, {place: alert id})."""
    uptown = add_location(shop, "Uptown")
    milk = shop.add_product("Milk", stock=2)  # low at Main
    response = shop.post(f"/api/products/{milk['id']}/stock",
                         json={"delta": 3, "reason": "delivery", "location_id": uptown})  # low at Uptown
    assert response.status_code == 200, response.get_json()
    manager = shop.add_user("uptown@example.com", "manager")
    assert shop.patch(f"/api/users/{manager.user['id']}", json={"location_ids": [uptown]}).status_code == 200
    alerts = {a["location"]["name"]: a["id"] for a in shop.get("/api/alerts").get_json()["items"]}
    assert set(alerts) == {"Main", "Uptown"}
    return shop, manager, alerts


def test_a_person_limited_to_a_place_cannot_resolve_another_places_alert(uptown_manager):
    shop, manager, alerts = uptown_manager
    response = manager.post(f"/api/alerts/{alerts['Main']}/resolve", json={})
    assert response.status_code == 404, response.get_json()
    assert {a["location"]["name"] for a in shop.get("/api/alerts").get_json()["items"]} == {"Main", "Uptown"}
    assert manager.post(f"/api/alerts/{alerts['Uptown']}/resolve", json={}).status_code == 200
    assert [a["location"]["name"] for a in shop.get("/api/alerts").get_json()["items"]] == ["Main"]


def test_a_person_limited_to_a_place_counts_only_its_alerts_and_products(uptown_manager):
    shop, manager, alerts = uptown_manager
    shop.add_product("Bread", stock=0)  # out at Main, not carried at Uptown
    assert manager.get("/api/products?stock=out").get_json()["total"] == 0
    assert shop.get("/api/alerts/stats").get_json() == {"total": 3, "active": 3, "resolved": 0,
                                                        "low_stock_products": 1, "out_of_stock_products": 1}
    assert manager.get("/api/alerts/stats").get_json() == {"total": 1, "active": 1, "resolved": 0,
                                                           "low_stock_products": 1, "out_of_stock_products": 0}


def test_the_stock_value_for_a_person_limited_to_two_places_is_theirs(shop):
    uptown, kiosk = add_location(shop, "Uptown"), add_location(shop, "Kiosk")
    milk = shop.add_product("Milk", stock=100, cost_price="1.00", sell_price="2.00")  # 100 at Main
    for place, units in ((uptown, 3), (kiosk, 4)):
        response = shop.post(f"/api/products/{milk['id']}/stock",
                             json={"delta": units, "reason": "delivery", "location_id": place})
        assert response.status_code == 200, response.get_json()
    shop.add_product("Salt", stock=5)  # no cost, at Main only
    manager = shop.add_user("uptown@example.com", "manager")
    assert shop.patch(f"/api/users/{manager.user['id']}", json={"location_ids": [uptown, kiosk]}).status_code == 200
    assert shop.get("/api/reports/stock-value").get_json()["cost"] == "107.00"
    assert manager.get("/api/reports/stock-value").get_json() == {
        "currency": "USD", "cost": "7.00", "retail": "14.00", "products_without_cost": 0,
        "by_category": [{"category": "Uncategorized", "cost": "7.00", "retail": "14.00"}]}
    assert manager.get(f"/api/reports/stock-value?location_id={kiosk}").get_json()["cost"] == "4.00"
    assert manager.get(f"/api/reports/stock-value?location_id={default_location(shop)}").status_code == 404


def test_a_person_limited_to_a_place_neither_sees_nor_receives_another_places_order(shop):
    """Receiving is a stock change at the order's place: a manager of Uptown does not add Main's
    delivery (404, as Main's id answers them), and the orders list shows them Uptown's only."""
    uptown = add_location(shop, "Uptown")
    supplier = add_supplier(shop)
    milk = shop.add_product("Milk", stock=2, supplier_id=supplier["id"])
    orders = {}
    for name, place in (("Main", default_location(shop)), ("Uptown", uptown)):
        response = shop.post("/api/purchase-orders", json={"supplier_id": supplier["id"], "location_id": place,
                                                           "lines": [{"product_id": milk["id"], "quantity": 5}]})
        assert response.status_code == 201, response.get_json()
        orders[name] = response.get_json()["id"]
        assert shop.post(f"/api/purchase-orders/{orders[name]}/send", json={}).status_code == 202
    manager = shop.add_user("uptown@example.com", "manager")
    assert shop.patch(f"/api/users/{manager.user['id']}", json={"location_ids": [uptown]}).status_code == 200
    assert [o["id"] for o in manager.get("/api/purchase-orders").get_json()["items"]] == [orders["Uptown"]]
    main_order = f"/api/purchase-orders/{orders['Main']}"
    lines = {"lines": [{"product_id": milk["id"], "quantity": 5}]}
    assert manager.get(main_order).status_code == 404
    assert manager.post(f"{main_order}/receive", json=lines).status_code == 404
    assert manager.post(f"{main_order}/cancel", json={}).status_code == 404
    assert manager.get(f"/purchase-orders/{orders['Main']}").status_code == 404  # the pages too
    listed = manager.get("/purchase-orders").get_data(as_text=True)
    assert "PO-2" in listed and "PO-1" not in listed
    assert manager.http.post(f"/purchase-orders/{orders['Main']}/receive",
                             data={"csrf_token": manager.csrf, f"received_{milk['id']}": "5"}).status_code == 404
    assert shop.get(main_order).get_json()["status"] == "sent"
    assert carried_at(shop, milk) == {"Main": 2}
    assert manager.post(f"/api/purchase-orders/{orders['Uptown']}/receive", json=lines).status_code == 200
    assert carried_at(shop, milk) == {"Main": 2, "Uptown": 5}


@pytest.mark.parametrize("body", [{"name": ""}, {"name": "   "}, {"name": None}, {"kind": None},
                                  {"name": "", "kind": "stockroom"}])
def test_a_location_patched_with_an_empty_name_or_kind_is_a_400_and_unchanged(shop, body):
    uptown = add_location(shop, "Uptown")
    response = shop.patch(f"/api/locations/{uptown}", json=body)
    assert response.status_code == 400, response.get_json()
    assert set(response.get_json()["details"]) <= {"name", "kind"} and response.get_json()["details"]
    assert shop.get(f"/api/locations/{uptown}").get_json() == {"id": uptown, "name": "Uptown", "kind": "store",
                                                               "is_default": False, "active": True}


def test_a_csv_without_location_id_is_the_default_locations_for_a_person_who_sees_it(shop):
    main, uptown = default_location(shop), add_location(shop, "Uptown")
    milk = shop.add_product("Milk", stock=10, sku="MILK", low_stock_threshold=4)  # at Main
    response = shop.post(f"/api/products/{milk['id']}/stock",
                         json={"delta": 3, "reason": "delivery", "location_id": uptown})
    assert response.status_code == 200, response.get_json()
    assert shop.patch(f"/api/locations/{uptown}", json={"is_default": True}).status_code == 200
    manager = shop.add_user("both@example.com", "manager")
    assert shop.patch(f"/api/users/{manager.user['id']}", json={"location_ids": [main, uptown]}).status_code == 200
    exported = shop.get("/api/products/export.csv").get_data(as_text=True)
    assert exported.splitlines()[1].startswith("Milk,MILK,,3,4,")  # Uptown, the default now
    assert manager.get("/api/products/export.csv").get_data(as_text=True) == exported
    response = import_csv(shop, exported.replace("Milk,MILK,,3,4,", "Milk,MILK,,5,4,"), uptown)
    assert response.status_code == 200, response.get_json()
    response = manager.post("/api/products/import", data={"file": (BytesIO(exported.encode()), "products.csv")},
                            content_type="multipart/form-data")
    assert response.status_code == 200, response.get_json()
    assert carried_at(shop, milk) == {"Uptown": 3, "Main": 10}


def test_a_batch_by_a_person_limited_to_a_place_answers_the_stock_they_see(shop):
    """The batch answers each product's stock as GET /api/products shows it to the caller: for a
    person limited to Uptown, Uptown's, never the shop's whole stock."""
    uptown = add_location(shop, "Uptown")
    milk = shop.add_product("Milk", stock=40)  # at Main
    response = shop.post(f"/api/products/{milk['id']}/stock",
                         json={"delta": 8, "reason": "delivery", "location_id": uptown})
    assert response.status_code == 200, response.get_json()
    clerk = shop.add_user("uptown@example.com", "staff")
    assert shop.patch(f"/api/users/{clerk.user['id']}", json={"location_ids": [uptown]}).status_code == 200
    response = clerk.post("/api/stock/batch", json={"changes": [{"product_id": milk["id"], "delta": -3,
                                                                 "reason": "sale"}]})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["products"] == [{"id": milk["id"], "stock": 5}]
    assert clerk.get(f"/api/products/{milk['id']}").get_json()["stock"] == 5
    response = shop.post("/api/stock/batch", json={"changes": [{"product_id": milk["id"], "delta": -1,
                                                                "reason": "sale", "location_id": uptown}]})
    assert response.get_json()["products"] == [{"id": milk["id"], "stock": 44}]  # the owner: the whole shop's


@pytest.mark.parametrize("method, url", [("PATCH", "/api/locations/{id}"), ("PATCH", "/api/purchase-orders/{id}"),
                                         ("PATCH", "/api/suppliers/{id}"), ("DELETE", "/api/suppliers/{id}"),
                                         ("PUT", "/api/locations/{id}/recipients"), ("GET", "/api/locations/{id}")])
@pytest.mark.parametrize("big", [2**31, 99999999999])
def test_an_id_past_the_integer_range_is_a_404_whatever_the_method(shop, method, url, big):
    """API.md, Conventions: an id outside its range is a 400 or a 404 (a PATCH beside a GET route
    of the same path answered 405)."""
    response = shop.http.open(url.format(id=big), method=method, json={}, headers={"X-CSRFToken": shop.csrf})
    assert response.status_code == 404, response.get_json()
    assert shop.http.open(url.format(id=2**31 - 1), method=method, json={},
                          headers={"X-CSRFToken": shop.csrf}).status_code == 404  # the largest id: none such


@pytest.mark.parametrize("limit", [0, 9, 10, 305, 2**31 - 1])
def test_the_id_pattern_matches_exactly_the_numbers_up_to_its_limit(limit):
    pattern = re.compile(digits_up_to(limit))
    for n in [*range(0, 1200), limit - 1, limit, limit + 1, 10 * limit + 9, 2**31, 99999999999]:
        if n >= 0:
            assert bool(pattern.fullmatch(str(n))) == (n <= limit), n
            assert bool(pattern.fullmatch(f"00{n}")) == (n <= limit), n


def test_a_manager_limited_to_a_place_naming_another_place_for_someone_gets_a_404(shop):
    """Another location's id answers a person limited to some places 404, here too; giving
    every place (an empty list) is beyond their rights (403)."""
    main, uptown = default_location(shop), add_location(shop, "Uptown")
    manager = shop.add_user("uptown@example.com", "manager")
    assert shop.patch(f"/api/users/{manager.user['id']}", json={"location_ids": [uptown]}).status_code == 200
    clerk = shop.add_user("clerk@example.com", "staff")
    url = f"/api/users/{clerk.user['id']}"
    response = manager.patch(url, json={"location_ids": [main]})
    assert response.status_code == 404, response.get_json()
    assert manager.patch(url, json={"location_ids": [main, uptown]}).status_code == 404
    assert manager.patch(url, json={"location_ids": []}).status_code == 403
    [shown] = [u for u in shop.get("/api/users").get_json()["items"] if u["email"] == "clerk@example.com"]
    assert shown["location_ids"] == []
    assert manager.patch(url, json={"location_ids": [uptown]}).get_json()["location_ids"] == [uptown]


def test_a_person_of_one_place_sees_each_products_status_as_that_places_list_filters_it(shop):
    """Their products list filters by their place's stock and threshold; each item says the same
    (a product listed under `low` said `ok`, measured against the product's own threshold)."""
    uptown = add_location(shop, "Uptown")
    milk = shop.add_product("Milk", stock=40)  # at Main
    response = shop.post(f"/api/products/{milk['id']}/stock",
                         json={"delta": 7, "reason": "delivery", "location_id": uptown})
    assert response.status_code == 200, response.get_json()
    response = shop.put(f"/api/products/{milk['id']}/locations/{uptown}", json={"low_stock_threshold": 20})
    assert response.status_code == 200, response.get_json()
    clerk = shop.add_user("uptown@example.com", "staff")
    assert shop.patch(f"/api/users/{clerk.user['id']}", json={"location_ids": [uptown]}).status_code == 200
    [listed] = clerk.get("/api/products?stock=low").get_json()["items"]
    assert (listed["stock"], listed["effective_threshold"], listed["threshold_source"], listed["status"]) == (
        7, 20, "location", "low")
    assert clerk.get(f"/api/products/{milk['id']}").get_json()["status"] == "low"
    assert shop.get(f"/api/products/{milk['id']}").get_json()["status"] == "ok"  # the whole shop: 47 of 5


def test_a_stock_change_by_a_person_of_several_places_without_the_default_names_its_place(shop):
    """Without location_id their change has no place of theirs to go to: a 400 saying to name one
    (as an order does), not a 404 for a place they never named; nothing changes."""
    uptown, kiosk = add_location(shop, "Uptown"), add_location(shop, "Kiosk")
    milk = shop.add_product("Milk", stock=10)
    manager = shop.add_user("two@example.com", "manager")
    assert shop.patch(f"/api/users/{manager.user['id']}", json={"location_ids": [uptown, kiosk]}).status_code == 200
    response = manager.post(f"/api/products/{milk['id']}/stock", json={"delta": 4, "reason": "delivery"})
    assert response.status_code == 400 and "location_id" in response.get_json()["details"], response.get_json()
    response = manager.post("/api/stock/batch", json={"changes": [{"product_id": milk["id"], "delta": 4,
                                                                   "reason": "delivery"}]},
                            headers={"Idempotency-Key": "several-places-1"})
    assert response.status_code == 400, response.get_json()
    assert carried_at(shop, milk) == {"Main": 10}
    response = manager.post(f"/api/products/{milk['id']}/stock",
                            json={"delta": 4, "reason": "delivery", "location_id": kiosk})
    assert response.status_code == 200, response.get_json()
    assert carried_at(shop, milk) == {"Main": 10, "Kiosk": 4}


def test_a_place_made_inactive_closes_its_open_alerts_at_once(shop):
    """An inactive place alerts no more: its open episodes close when it is deactivated (the
    monitor's next cycle did it before), and another place's stay open."""
    kiosk = add_location(shop, "Kiosk")
    milk = shop.add_product("Milk", stock=3)  # low at Main
    for delta, reason in ((2, "delivery"), (-2, "sale")):  # out at Kiosk, which then holds nothing
        response = shop.post(f"/api/products/{milk['id']}/stock",
                             json={"delta": delta, "reason": reason, "location_id": kiosk})
        assert response.status_code == 200, response.get_json()

    def episodes():
        return sorted((a["location"]["name"], a["status"])
                      for a in shop.get("/api/alerts?show_resolved=1").get_json()["items"])

    assert episodes() == [("Kiosk", "active"), ("Main", "active")]
    assert shop.patch(f"/api/locations/{kiosk}", json={"active": False}).status_code == 200
    assert episodes() == [("Kiosk", "resolved"), ("Main", "active")]
    assert shop.get("/api/alerts/stats").get_json()["active"] == 1


def test_no_order_is_made_for_an_inactive_place(shop):
    """It could not be received there (409 at receiving): refused when made, by hand or from the
    reorder list, and nothing is drafted."""
    kiosk = add_location(shop, "Kiosk")
    supplier = add_supplier(shop)
    milk = shop.add_product("Milk", stock=2, supplier_id=supplier["id"])
    assert shop.patch(f"/api/locations/{kiosk}", json={"active": False}).status_code == 200
    response = shop.post("/api/purchase-orders", json={"supplier_id": supplier["id"], "location_id": kiosk,
                                                       "lines": [{"product_id": milk["id"], "quantity": 5}]})
    assert response.status_code == 409 and "Kiosk" in response.get_json()["error"], response.get_json()
    response = shop.post("/api/purchase-orders/from-reorder", json={"supplier_id": supplier["id"],
                                                                    "location_id": kiosk})
    assert response.status_code == 409, response.get_json()
    assert shop.get("/api/purchase-orders").get_json()["items"] == []
