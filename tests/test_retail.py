"""Products, categories and stock changes through the JSON API and the pages."""
import re

import pytest

from modules.extensions import db
from modules.retail.models import Product, StockMovement


def movements(product_id):
    return db.session.execute(
        db.select(StockMovement).where(StockMovement.product_id == product_id).order_by(StockMovement.id)
    ).scalars().all()


def test_create_product_with_new_category_and_initial_stock(shop):
    product = shop.add_product("Earl Grey", stock=12, sku="TEA-1", category="Tea")
    assert product["category"]["name"] == "Tea" and product["stock"] == 12
    assert product["effective_threshold"] == 5 and product["status"] == "ok"
    assert [(m.delta, m.stock_after, m.reason) for m in movements(product["id"])] == [(12, 12, "initial")]
    assert [c["name"] for c in shop.get("/api/categories").get_json()["items"]] == ["Tea"]


def test_product_status_follows_effective_threshold(shop):
    assert shop.add_product("A", stock=5)["status"] == "low"
    assert shop.add_product("B", stock=6)["status"] == "ok"
    assert shop.add_product("C", stock=0)["status"] == "out"
    own = shop.add_product("D", stock=8, low_stock_threshold=10)
    assert own["effective_threshold"] == 10 and own["status"] == "low"


@pytest.mark.parametrize("body, field", [
    ({}, "name"),
    ({"name": ""}, "name"),
    ({"name": "X" * 201}, "name"),
    ({"name": "Tea", "stock": -1}, "stock"),
    ({"name": "Tea", "stock": "7"}, "stock"),
    ({"name": "Tea", "stock": True}, "stock"),
    ({"name": "Tea", "low_stock_threshold": -2}, "low_stock_threshold"),
    ({"name": "Tea", "low_stock_threshold": 2_000_000}, "low_stock_threshold"),
    ({"name": "Tea", "colour": "red"}, "colour"),
])
def test_create_product_refuses_bad_input_and_writes_nothing(shop, body, field):
    response = shop.post("/api/products", json=body)
    assert response.status_code == 400
    assert field in response.get_json()["details"]
    assert shop.get("/api/products").get_json()["total"] == 0


def test_non_json_and_non_object_bodies(shop):
    assert shop.post("/api/products", data="name=Tea", content_type="text/plain").status_code == 415
    response = shop.post("/api/products", data="[1, 2]", content_type="application/json")
    assert response.status_code == 400 and response.get_json()["error"]
    assert shop.post("/api/products", data="{oops", content_type="application/json").status_code == 400


def test_too_large_body_is_413(shop):
    response = shop.post("/api/products", json={"name": "x" * (2 * 1024 * 1024)})
    assert response.status_code == 413
    assert response.get_json()["error"]


def test_duplicate_sku_is_409(shop):
    shop.add_product("A", sku="SKU-1")
    response = shop.post("/api/products", json={"name": "B", "sku": "SKU-1"})
    assert response.status_code == 409
    assert shop.get("/api/products").get_json()["total"] == 1


def test_same_sku_in_two_shops_is_fine(shop, other_shop):
    shop.add_product("A", sku="SKU-1")
    other_shop.add_product("A", sku="SKU-1")


def test_list_filters_search_and_pagination(shop):
    for i in range(7):
        shop.add_product(f"Item {i}", stock=i, category="Odd" if i % 2 else "Even")
    assert shop.get("/api/products?stock=low").get_json()["total"] == 6  # 0..5
    assert [p["name"] for p in shop.get("/api/products?stock=out").get_json()["items"]] == ["Item 0"]
    assert shop.get("/api/products?q=item 6").get_json()["total"] == 1
    page = shop.get("/api/products?per_page=3&page=3").get_json()
    assert page["total"] == 7 and [p["name"] for p in page["items"]] == ["Item 6"]
    odd = shop.get("/api/categories").get_json()["items"][1]
    assert odd["name"] == "Odd"
    assert shop.get(f"/api/products?category_id={odd['id']}").get_json()["total"] == 3


@pytest.mark.parametrize("query", ["stock=some", "page=0", "per_page=1000", "page=x", "category_id=-1"])
def test_list_refuses_bad_query(shop, query):
    response = shop.get(f"/api/products?{query}")
    assert response.status_code == 400
    assert response.get_json()["details"]


def test_stock_change_by_delta_and_quantity_records_movements(shop):
    product = shop.add_product("Tea", stock=10)
    response = shop.post(f"/api/products/{product['id']}/stock", json={"delta": -3, "reason": "sale"})
    assert response.status_code == 200 and response.get_json()["product"]["stock"] == 7
    response = shop.post(f"/api/products/{product['id']}/stock", json={"quantity": 20, "reason": "count"})
    assert response.get_json()["product"]["stock"] == 20
    assert [(m.delta, m.stock_after, m.reason) for m in movements(product["id"])] == [
        (10, 10, "initial"), (-3, 7, "sale"), (13, 20, "count")]


@pytest.mark.parametrize("body, field", [
    ({"delta": -1}, "reason"),
    ({"delta": -1, "reason": "theft"}, "reason"),
    ({"reason": "sale"}, "delta"),
    ({"delta": -1, "quantity": 3, "reason": "sale"}, "delta"),
    ({"delta": 0, "reason": "sale"}, "delta"),
    ({"delta": "5", "reason": "sale"}, "delta"),
    ({"quantity": -4, "reason": "count"}, "quantity"),
    ({"delta": -11, "reason": "sale"}, "delta"),  # below zero
])
def test_stock_change_refuses_bad_input_and_changes_nothing(shop, body, field):
    product = shop.add_product("Tea", stock=10)
    response = shop.post(f"/api/products/{product['id']}/stock", json=body)
    assert response.status_code == 400
    assert field in response.get_json()["details"]
    assert shop.get(f"/api/products/{product['id']}").get_json()["stock"] == 10
    assert len(movements(product["id"])) == 1


def test_shop_that_allows_negative_stock_can_go_below_zero(shop):
    from modules.auth.models import Client

    db.session.get(Client, shop.client["id"]).allow_negative_stock = True
    db.session.commit()
    product = shop.add_product("Tea", stock=1)
    response = shop.post(f"/api/products/{product['id']}/stock", json={"delta": -3, "reason": "sale"})
    assert response.status_code == 200 and response.get_json()["product"]["stock"] == -2


def test_patch_product_and_refuse_stock_in_patch(shop):
    product = shop.add_product("Tea", stock=10)
    response = shop.patch(f"/api/products/{product['id']}", json={"name": "Green Tea", "category": "Tea",
                                                                  "low_stock_threshold": 3})
    assert response.status_code == 200
    body = response.get_json()
    assert (body["name"], body["category"]["name"], body["low_stock_threshold"]) == ("Green Tea", "Tea", 3)
    refused = shop.patch(f"/api/products/{product['id']}", json={"stock": 1, "name": "Other"})
    assert refused.status_code == 400 and "stock" in refused.get_json()["details"]
    assert shop.get(f"/api/products/{product['id']}").get_json()["name"] == "Green Tea"


def test_patch_null_threshold_returns_to_shop_default(shop):
    product = shop.add_product("Tea", stock=10, low_stock_threshold=12)
    body = shop.patch(f"/api/products/{product['id']}", json={"low_stock_threshold": None}).get_json()
    assert body["low_stock_threshold"] is None and body["effective_threshold"] == 5


def test_delete_archives_product(shop):
    product = shop.add_product("Tea", stock=10)
    response = shop.delete(f"/api/products/{product['id']}")
    assert response.status_code == 200 and response.get_json()["active"] is False
    assert shop.get("/api/products").get_json()["total"] == 0
    assert db.session.get(Product, product["id"]) is not None


def test_category_duplicate_is_409_and_empty_is_400(shop):
    assert shop.post("/api/categories", json={"name": "Tea"}).status_code == 201
    assert shop.post("/api/categories", json={"name": "Tea"}).status_code == 409
    assert shop.post("/api/categories", json={"name": " "}).status_code == 400


# --- pages ------------------------------------------------------------------------------------

def _token(http, path):
    return re.search(r'name="csrf_token" value="([^"]+)"', http.get(path).get_data(as_text=True)).group(1)


def test_products_page_shows_badges(shop):
    shop.add_product("Milk", stock=3)
    shop.add_product("Cheese", stock=0)
    shop.add_product("Bread", stock=40)
    html = shop.get("/retail/products").get_data(as_text=True)
    assert html.count("badge-low") == 1 and html.count("badge-out") == 1 and html.count("badge-ok") == 1
    low_only = shop.get("/retail/products?stock=low").get_data(as_text=True)
    assert "Milk" in low_only and "Cheese" in low_only and "Bread" not in low_only


def test_new_product_page_with_bad_input_rerenders_400(shop):
    token = _token(shop.http, "/retail/products/new")
    response = shop.http.post("/retail/products/new", data={"csrf_token": token, "name": "", "stock": "-4",
                                                            "low_stock_threshold": "abc"})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    for field in ("name", "stock", "low_stock_threshold"):
        assert f'data-field="{field}"' in html
    assert shop.get("/api/products").get_json()["total"] == 0


def test_new_product_page_creates_and_redirects(shop):
    token = _token(shop.http, "/retail/products/new")
    response = shop.http.post("/retail/products/new", data={"csrf_token": token, "name": "Jam", "sku": "",
                                                            "category": "Pantry", "stock": "4",
                                                            "low_stock_threshold": ""})
    assert response.status_code == 303
    product = shop.get("/api/products").get_json()["items"][0]
    assert (product["name"], product["stock"], product["status"]) == ("Jam", 4, "low")


def test_adjust_stock_page_below_zero_rerenders_400(shop):
    product = shop.add_product("Jam", stock=2)
    path = f"/retail/products/{product['id']}/edit"
    token = _token(shop.http, path)
    response = shop.http.post(f"/retail/products/{product['id']}/stock",
                              data={"csrf_token": token, "amount": "5", "reason": "sale"})
    assert response.status_code == 400
    assert "Stock cannot go below zero" in response.get_data(as_text=True)
    assert shop.get(f"/api/products/{product['id']}").get_json()["stock"] == 2
    ok = shop.http.post(f"/retail/products/{product['id']}/stock",
                        data={"csrf_token": token, "amount": "2", "reason": "damage"})
    assert ok.status_code == 303
    assert shop.get(f"/api/products/{product['id']}").get_json()["status"] == "out"


def test_edit_and_archive_pages(shop):
    product = shop.add_product("Jam", stock=20)
    path = f"/retail/products/{product['id']}/edit"
    token = _token(shop.http, path)
    bad = shop.http.post(path, data={"csrf_token": token, "name": "", "low_stock_threshold": "-1"})
    assert bad.status_code == 400
    good = shop.http.post(path, data={"csrf_token": token, "name": "Plum Jam", "category": "", "sku": "",
                                      "low_stock_threshold": "25"})
    assert good.status_code == 303
    assert shop.get(f"/api/products/{product['id']}").get_json()["status"] == "low"
    archived = shop.http.post(f"/retail/products/{product['id']}/archive", data={"csrf_token": token})
    assert archived.status_code == 303
    assert shop.get(f"/api/products/{product['id']}").get_json()["active"] is False


def test_categories_page_refuses_duplicate(shop):
    token = _token(shop.http, "/retail/categories")
    assert shop.http.post("/retail/categories", data={"csrf_token": token, "name": "Tea"}).status_code == 303
    again = shop.http.post("/retail/categories", data={"csrf_token": token, "name": "Tea"})
    assert again.status_code == 400 and "already has a category" in again.get_data(as_text=True)


def test_concurrent_stock_counts_do_not_interleave(app, shop):
    import threading

    from tests.support.shops import ApiClient

    product = shop.add_product("Soap", stock=100)
    statuses = []

    def count_to(quantity):
        clerk = ApiClient(app, shop.email)
        clerk.login()
        statuses.append(clerk.post(f"/api/products/{product['id']}/stock",
                                   json={"quantity": quantity, "reason": "count"}).status_code)

    threads = [threading.Thread(target=count_to, args=(q,)) for q in (50, 60, 70, 80)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert statuses == [200] * 4
    final = shop.get(f"/api/products/{product['id']}").get_json()["stock"]
    history = [(m.delta, m.stock_after) for m in movements(product["id"])]
    assert final in (50, 60, 70, 80) and history[-1][1] == final
    # Each movement's delta leads from the stock before it to the stock after it.
    stock = 0
    for delta, after in history:
        assert stock + delta == after
        stock = after


def test_archived_product_is_not_low(shop):
    product = shop.add_product("Old", stock=2)
    archived = shop.delete(f"/api/products/{product['id']}").get_json()
    assert archived["active"] is False and archived["status"] == "ok"


def test_search_treats_wildcards_as_text(shop):
    shop.add_product("Tea", stock=9)
    shop.add_product("100% Juice", stock=9)
    assert [p["name"] for p in shop.get("/api/products?q=%25").get_json()["items"]] == ["100% Juice"]
    assert shop.get("/api/products?q=_").get_json()["total"] == 0


def test_category_names_match_in_any_case(shop):
    first = shop.add_product("A", category="Frozen")
    second = shop.add_product("B", category="frozen")
    assert first["category"] == second["category"]


def test_category_conflicts_in_any_case(shop):
    assert shop.post("/api/categories", json={"name": "Frozen"}).status_code == 201
    assert shop.post("/api/categories", json={"name": "frozen"}).status_code == 409
