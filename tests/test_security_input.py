"""Input that cannot 500: NUL and control characters, ids and query integers past the database's
range, stock past a billion, malformed, over-deep, non-UTF-8 JSON and lone surrogates."""

import pytest

from modules.auth.models import Client, User
from modules.extensions import db
from modules.retail.models import Category, Product, StockMovement


def count(model):
    return db.session.execute(db.select(db.func.count()).select_from(model)).scalar_one()


def assert_contract_400(response):
    assert response.status_code == 400, response.get_data(as_text=True)
    body = response.get_json()
    assert isinstance(body["error"], str) and isinstance(body["details"], dict)


@pytest.mark.parametrize("name", ["Tea\x00", "Te\x07a", "Tea\nBags", "Tea\x9b"])
def test_control_characters_in_product_names_are_400(shop, name):
    assert_contract_400(shop.post("/api/products", json={"name": name}))
    assert count(Product) == 0


def test_nul_in_category_name_is_400(shop):
    assert_contract_400(shop.post("/api/categories", json={"name": "Dairy\x00"}))
    product = shop.add_product("Milk")
    assert_contract_400(shop.patch(f"/api/products/{product['id']}", json={"category": "Da\x00iry"}))
    assert count(Category) == 0


def test_nul_in_shop_name_is_400(client):
    response = client.post("/api/auth/register", json={"shop_name": "Bad\x00Shop", "email": "a@example.com",
                                                       "password": "shop-password-123"})
    assert_contract_400(response)
    assert count(Client) == 0 and count(User) == 0


def test_nul_in_login_email_is_400_not_500(client, shop):
    assert_contract_400(client.post("/api/auth/login", json={"email": shop.email + "\x00",
                                                             "password": shop.password}))
    html = client.post("/login", data={"email": "a\x00@example.com", "password": "x"})
    assert html.status_code == 400


def test_nul_in_q_is_400_not_500(shop):
    assert_contract_400(shop.get("/api/products?q=te%00a"))
    assert shop.get("/retail/products?q=te%00a").status_code == 400


@pytest.mark.parametrize("path", [
    "/api/products/2147483648", "/api/products/9223372036854775808", "/api/products/99999999999999999999999",
    "/api/alerts/2147483648", "/api/categories/2147483648", "/retail/products/2147483648/edit",
])
def test_ids_past_the_integer_range_are_404(shop, path):
    method = shop.patch if path.startswith("/api/categories") else shop.get
    response = method(path) if method is shop.get else method(path, json={"name": "x"})
    assert response.status_code == 404


def test_largest_id_is_404_not_500(shop):
    assert shop.get("/api/products/2147483647").status_code == 404
    assert shop.post("/api/notifications/2147483647/read").status_code == 404


@pytest.mark.parametrize("query", ["before_id=2147483648", "before_id=0", "limit=0", "limit=101",
                                   "limit=99999999999999999999", "before_id=abc"])
def test_query_integers_out_of_range_are_400(shop, query):
    assert_contract_400(shop.get(f"/api/notifications?{query}"))


def test_page_out_of_range_is_400(shop):
    assert_contract_400(shop.get("/api/products?page=0"))
    assert_contract_400(shop.get("/api/products?page=99999999999999999999"))
    assert shop.get("/notifications?before_id=2147483648").status_code == 400


def test_stock_cannot_pass_a_billion(shop):
    product = shop.add_product("Flour", stock=0)
    url = f"/api/products/{product['id']}/stock"
    assert shop.post(url, json={"delta": 1_000_000_000, "reason": "delivery"}).status_code == 200
    second = shop.post(url, json={"delta": 1_000_000_000, "reason": "delivery"})
    assert_contract_400(second)
    assert "delta" in second.get_json()["details"]
    assert shop.post(url, json={"delta": 1, "reason": "delivery"}).status_code == 400
    assert_contract_400(shop.post(url, json={"quantity": 1_000_000_001, "reason": "count"}))
    assert shop.get(f"/api/products/{product['id']}").get_json()["stock"] == 1_000_000_000
    assert count(StockMovement) == 1


def test_stock_delta_past_the_range_is_400(shop):
    product = shop.add_product("Flour", stock=5)
    url = f"/api/products/{product['id']}/stock"
    for delta in (10**10, 2**31, -(2**63), 10**30):
        assert_contract_400(shop.post(url, json={"delta": delta, "reason": "delivery"}))
    assert shop.get(f"/api/products/{product['id']}").get_json()["stock"] == 5


@pytest.mark.parametrize("path", ["/api/auth/login", "/api/auth/register"])
@pytest.mark.parametrize("body", [
    b'{"email": "a@example.com", "password": ',  # malformed
    b"[" * 100_000 + b"]" * 100_000,  # deeper than the parser's stack
    b'{"email": ' + b'{"a": ' * 40 + b"1" + b"}" * 40 + b', "password": "x"}',  # deeper than 32
    '{"email": "caf\u00e9@example.com"}'.encode("latin-1"),  # not UTF-8
    b'{"email": "\\ud800@example.com", "password": "shop-password-123", "shop_name": "S"}',  # a lone surrogate
    b'{"email": "a@example.com", "password": "\\udfff\\ud800xxxxxxxx", "shop_name": "S"}',
], ids=["malformed", "very-deep", "deep", "latin-1", "surrogate-email", "surrogate-password"])
def test_unreadable_json_before_sign_in_is_400(client, path, body):
    response = client.post(path, data=body, content_type="application/json")
    assert_contract_400(response)
    assert count(Client) == 0


def test_unreadable_json_when_signed_in_is_400_and_changes_nothing(shop):
    product = shop.add_product("Milk", stock=3)
    for body in (b"[" * 5000, b'{"delta": 1, "reason": "sale"', b'{"reason": "\\ud800", "delta": 1}',
                 b'{"delta": 1, "reason": "sale", "x": ' + b"[" * 40 + b"]" * 40 + b"}"):
        response = shop.post(f"/api/products/{product['id']}/stock", data=body, content_type="application/json")
        assert_contract_400(response)
    assert shop.get(f"/api/products/{product['id']}").get_json()["stock"] == 3
    assert count(StockMovement) == 1
