"""GET /api/products/<id>/movements: a product's stock history, newest first, paged by before_id,
with who made each change and through what (app, token, import)."""
import pytest
from sqlalchemy import text

from modules.extensions import db


def history(shop, product_id, query=""):
    response = shop.get(f"/api/products/{product_id}/movements{query}")
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]


def test_movements_are_newest_first_with_user_source_and_stock_after(shop):
    product = shop.add_product("Oat Milk", stock=10)
    shop.post(f"/api/products/{product['id']}/stock", json={"delta": -3, "reason": "sale"})
    shop.post(f"/api/products/{product['id']}/stock", json={"quantity": 20, "reason": "count"})
    items = history(shop, product["id"])
    assert [(m["delta"], m["stock_after"], m["reason"]) for m in items] == [(13, 20, "count"), (-3, 7, "sale"),
                                                                              (10, 10, "initial")]
    assert all(m["user"] == {"id": shop.user["id"], "email": shop.email} for m in items)
    assert {m["source"] for m in items} == {"app"}
    assert items[0]["created_at"].endswith("+00:00")
    assert set(items[0]) == {"id", "delta", "stock_after", "reason", "note", "user", "source", "location",
                             "created_at"}
    assert items[0]["location"]["name"] == "Main"


def test_movements_page_with_limit_and_before_id(shop):
    product = shop.add_product("Tea", stock=50)
    for _ in range(4):
        shop.post(f"/api/products/{product['id']}/stock", json={"delta": -1, "reason": "sale"})
    first = history(shop, product["id"], "?limit=2")
    assert [m["stock_after"] for m in first] == [46, 47]
    second = history(shop, product["id"], f"?limit=2&before_id={first[-1]['id']}")
    assert [m["stock_after"] for m in second] == [48, 49]
    last = history(shop, product["id"], f"?limit=2&before_id={second[-1]['id']}")
    assert [m["stock_after"] for m in last] == [50]
    assert len(history(shop, product["id"])) == 5  # default limit 20


@pytest.mark.parametrize("query, field", [
    ("?limit=0", "limit"), ("?limit=101", "limit"), ("?limit=ten", "limit"),
    ("?before_id=0", "before_id"), ("?before_id=99999999999999999999", "before_id"), ("?before_id=x", "before_id"),
])
def test_movements_refuse_bad_paging(shop, query, field):
    product = shop.add_product("Tea", stock=5)
    response = shop.get(f"/api/products/{product['id']}/movements{query}")
    assert response.status_code == 400
    assert field in response.get_json()["details"]


def test_movements_of_another_shops_product_are_404(shop, other_shop):
    product = other_shop.add_product("Secret", stock=5)
    assert shop.get(f"/api/products/{product['id']}/movements").status_code == 404
    assert other_shop.get(f"/api/products/{product['id']}/movements").status_code == 200


def test_movement_without_user_shows_null(shop):
    product = shop.add_product("Tea", stock=5)
    db.session.execute(text("UPDATE stock_movements SET user_id = NULL"))
    db.session.commit()
    assert history(shop, product["id"])[0]["user"] is None


def test_movements_need_sign_in(client):
    assert client.get("/api/products/1/movements").status_code == 401
