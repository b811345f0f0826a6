"""Shops for the tests: `make_shop`, `shop` and `other_shop` write the shop and its owner with the
app's own service (as `flask create-shop` does), then sign in through the real login API, like
flaskr's `auth` fixture. Tests about sign-up call `ApiClient.register` instead.

Loaded as a plugin by tests/conftest.py (`pytest_plugins`); `ApiClient`, `new_token` (an API
token made by a shop's user) and `till` (a client with only that token) are plain helpers."""
import itertools

import pytest
from sqlalchemy import update

from modules.auth import service as auth_service
from modules.extensions import db
from modules.retail.locations import default_location_id
from modules.retail.models import Product, ProductStock, StockMovement
from modules.retail.sales import record_sales

PASSWORD = "shop-password-123"


class ApiClient:
    """A signed-in user speaking JSON, CSRF token attached like a real client would."""

    def __init__(self, app, email=None, password=PASSWORD):
        self.app = app
        self.http = app.test_client()
        self.email = email
        self.password = password
        self.csrf = None
        self.user = self.client = None

    def _remember(self, response):
        body = response.get_json()
        self.csrf = body["csrf_token"]
        self.user, self.client = body["user"], body["client"]
        return response

    def register(self, shop_name, timezone=None):
        body = {"shop_name": shop_name, "email": self.email, "password": self.password}
        if timezone:
            body["timezone"] = timezone
        response = self.http.post("/api/auth/register", json=body)
        assert response.status_code == 201, response.get_json()
        return self._remember(response)

    def login(self):
        response = self.http.post("/api/auth/login", json={"email": self.email, "password": self.password})
        assert response.status_code == 200, response.get_json()
        return self._remember(response)

    def _headers(self, headers):
        return {"X-CSRFToken": self.csrf or "", **(headers or {})}

    def get(self, url, **kw):
        return self.http.get(url, **kw)

    def post(self, url, json=None, headers=None, **kw):
        if json is not None:
            kw["json"] = json
        return self.http.post(url, headers=self._headers(headers), **kw)

    def patch(self, url, json=None, headers=None, **kw):
        return self.http.patch(url, json=json, headers=self._headers(headers), **kw)

    def put(self, url, json=None, headers=None, **kw):
        return self.http.put(url, json=json, headers=self._headers(headers), **kw)

    def delete(self, url, headers=None, **kw):
        return self.http.delete(url, headers=self._headers(headers), **kw)

    # shop-level conveniences
    def add_product(self, name, stock=10, **fields):
        response = self.post("/api/products", json={"name": name, "stock": stock, **fields})
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    def add_user(self, email, role="staff", password=PASSWORD):
        response = self.post("/api/users", json={"email": email, "password": password, "role": role})
        assert response.status_code == 201, response.get_json()
        other = ApiClient(self.app, email, password)
        other.login()
        return other


def new_token(shop, scope="stock", name="Front till"):
    response = shop.post("/api/tokens", json={"name": name, "scope": scope})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def till(app, token):
    """A client with no cookie jar entry and no CSRF token: only the Bearer header."""
    http = app.test_client(use_cookies=False)
    headers = {"Authorization": f"Bearer {token}"}

    class Till:
        def get(self, url, **kw):
            return http.get(url, headers={**headers, **kw.pop("headers", {})}, **kw)

        def post(self, url, **kw):
            return http.post(url, headers={**headers, **kw.pop("headers", {})}, **kw)

        def open(self, url, method, **kw):
            return http.open(url, method=method, headers={**headers, **kw.pop("headers", {})}, **kw)

    return Till()


@pytest.fixture
def make_shop(app):
    """make_shop("Name") -> an ApiClient signed in as the new shop's owner."""
    created = itertools.count(1)

    def _make(name="Corner Shop", email=None, timezone=None):
        owner = ApiClient(app, email or f"owner{next(created)}-{name.lower().replace(' ', '')}@example.com")
        auth_service.create_shop(name, owner.email, owner.password, timezone or "UTC")
        owner.login()
        return owner

    return _make


@pytest.fixture
def shop(make_shop):
    return make_shop("Corner Shop")


@pytest.fixture
def other_shop(make_shop):
    return make_shop("Rival Shop")


def set_stock_behind_the_apps_back(product_ids, stock):
    """Write products' stock directly, as another program sharing the database would (the
    monitor must find it): at every place that carries them, and their whole stock. Not committed."""
    ids = [product_ids] if isinstance(product_ids, int) else list(product_ids)
    db.session.execute(update(ProductStock).where(ProductStock.product_id.in_(ids)).values(stock=stock))
    db.session.execute(update(Product).where(Product.id.in_(ids)).values(stock=stock))


def record_past_sale(client_id, product_id, units, at):
    """A sale at another time (the past), as a till's history would hold it: its movement at the
    shop's default place, and its units in the daily rollup through the app's own writer (the
    movement alone is invisible to the forecast). Not committed."""
    place = default_location_id(client_id)
    db.session.add(StockMovement(client_id=client_id, product_id=product_id, location_id=place, delta=-units,
                                 stock_after=0, reason="sale", created_at=at))
    record_sales(client_id, [(product_id, place, units)], at)


def add_location(shop, name):
    """A new location of `shop` (through the API); its id."""
    response = shop.post("/api/locations", json={"name": name})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def default_location(shop):
    """The id of `shop`'s default location."""
    return next(loc["id"] for loc in shop.get("/api/locations").get_json()["items"] if loc["is_default"])
