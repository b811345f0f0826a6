"""Accounts as the contract has them: at most SIGNUP_PER_ADDRESS_PER_HOUR sign-ups per address
(the forwarded one behind a proxy); passwords scored by zxcvbn with the shop's name and the email
as words it knows; one rule per field (the pages' hints come from it, the demo's address is one
the app accepts); tokens act with their creator's current rights; a 403 writes no row."""
import re
from datetime import timedelta

import pytest

from modules.auth import service
from modules.auth.models import Client, LoginAttempt, NotificationSettings, User
from modules.extensions import db
from modules.seed import DEMO_EMAIL
from modules.timeutil import utcnow
from modules.validation import Fields
from tests.support.shops import new_token, till


def count(model, *where):
    db.session.rollback()
    return db.session.execute(db.select(db.func.count()).select_from(model).where(*where)).scalar_one()


def sign_up(http, n, address="127.0.0.1", **kw):
    return http.post("/api/auth/register", json={"shop_name": f"Shop {n}", "email": f"owner{n}@example.com",
                                                 "password": "shop-password-123"},
                     environ_base={"REMOTE_ADDR": address}, **kw)


@pytest.mark.parametrize("app_config", [{"SIGNUP_PER_ADDRESS_PER_HOUR": 5}])
def test_sign_ups_from_one_address_are_limited_per_hour(app, client):
    assert [sign_up(app.test_client(), n, "203.0.113.5").status_code for n in range(5)] == [201] * 5
    refused = sign_up(app.test_client(), 5, "203.0.113.5")
    assert refused.status_code == 429 and refused.get_json()["error"]
    assert 3500 <= int(refused.headers["Retry-After"]) <= 3600
    assert count(Client) == 5 and count(User, User.email == "owner5@example.com") == 0  # nothing written
    browser = app.test_client()
    form = browser.get("/register").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    page = browser.post("/register", data={"shop_name": "Shop 6", "email": "owner6@example.com",
                                           "password": "shop-password-123", "csrf_token": token},
                        environ_base={"REMOTE_ADDR": "203.0.113.5"})
    assert page.status_code == 429 and b"At most 5 new shops an hour" in page.data
    assert sign_up(app.test_client(), 7, "198.51.100.5").status_code == 201  # another address
    # The hour passes: the address may sign up again.
    db.session.execute(db.update(LoginAttempt).where(LoginAttempt.kind == "signup")
                       .values(blocked_until=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    assert sign_up(app.test_client(), 8, "203.0.113.5").status_code == 201


@pytest.mark.parametrize("app_config", [{"SIGNUP_PER_ADDRESS_PER_HOUR": 1, "TRUSTED_PROXIES": 1}])
def test_behind_a_proxy_sign_ups_are_counted_per_forwarded_address(app):
    def via_proxy(n, address):
        return sign_up(app.test_client(), n, "10.0.0.2", headers={"X-Forwarded-For": address})

    assert via_proxy(1, "203.0.113.5").status_code == 201
    assert via_proxy(2, "203.0.113.5").status_code == 429
    assert via_proxy(3, "198.51.100.5").status_code == 201  # same proxy, another client


@pytest.mark.parametrize("password, problem", [
    ("short-pw", "at least 10"),
    ("          ", "spaces"),
    ("password123", "common"),
    ("aaaaaaaaaa", "guess"),
    ("stockbell1", "guess"),
    ("1234567890", "common"),
    ("Corner Shop", "shop"),
    ("corner shop", "shop"),
    ("owner@cornershop.example", "email"),
    ("Corner Shop 2026", "guess"),
])
def test_weak_passwords_are_refused(client, password, problem):
    response = client.post("/api/auth/register", json={"shop_name": "Corner Shop",
                                                       "email": "owner@cornershop.example", "password": password})
    assert response.status_code == 400
    assert problem in response.get_json()["details"]["password"].lower()
    assert count(Client) == 0


def test_a_strong_password_passes(client):
    response = client.post("/api/auth/register", json={"shop_name": "Corner Shop", "email": "o@example.com",
                                                       "password": "tin roof rusted 42"})
    assert response.status_code == 201


def test_weak_new_password_is_refused_and_the_old_one_kept(app, client, shop):
    response = shop.post("/api/auth/password", json={"current_password": shop.password,
                                                     "new_password": shop.email})
    assert response.status_code == 400 and "new_password" in response.get_json()["details"]
    assert client.post("/api/auth/login", json={"email": shop.email, "password": shop.password}).status_code == 200


def test_a_new_users_password_may_not_be_the_shops_name(shop):
    response = shop.post("/api/users", json={"email": "staff@example.com", "password": "Corner Shop",
                                             "role": "staff"})
    assert response.status_code == 400 and "password" in response.get_json()["details"]


def test_the_register_pages_hint_is_the_servers_rule(client):
    page = client.get("/register").get_data(as_text=True)
    assert f'minlength="{service.MIN_PASSWORD}"' in page
    assert service.PASSWORD_RULE in page.replace("&#39;", "'")
    assert "8 characters" not in page


def test_the_account_pages_hint_is_the_servers_rule(shop):
    page = shop.get("/settings/account").get_data(as_text=True)
    assert f'minlength="{service.MIN_PASSWORD}"' in page and service.PASSWORD_RULE in page.replace("&#39;", "'")


def test_the_demo_shops_email_is_one_the_register_form_accepts(app):
    fields = Fields({"email": DEMO_EMAIL})
    assert service.normalize_email(fields) == DEMO_EMAIL and not fields.errors
    refused = Fields({"email": "demo@stockbell.local"})
    assert service.normalize_email(refused) is None and refused.errors  # the old one was not


def test_seed_demo_prints_a_login_that_signs_in(app, runner, client):
    output = runner.invoke(args=["seed-demo"]).output
    email, password = re.search(r"Log in as (\S+) with password (\S+)", output).groups()
    assert email == DEMO_EMAIL
    assert client.post("/api/auth/login", json={"email": email, "password": password}).status_code == 200


def test_a_token_stops_when_its_creator_is_deactivated(app, shop):
    manager = shop.add_user("manager@example.com", "manager")
    stocker = till(app, new_token(manager, "stock")["token"])
    product = shop.add_product("Milk", stock=5)
    assert stocker.get("/api/products").status_code == 200
    assert shop.patch(f"/api/users/{manager.user['id']}", json={"active": False}).status_code == 200
    assert stocker.get("/api/products").status_code == 401
    refused = stocker.post(f"/api/products/{product['id']}/stock", json={"delta": -1, "reason": "sale"})
    assert refused.status_code == 401 and refused.get_json()["error"]
    assert shop.get(f"/api/products/{product['id']}").get_json()["stock"] == 5
    assert shop.patch(f"/api/users/{manager.user['id']}", json={"active": True}).status_code == 200
    assert stocker.get("/api/products").status_code == 200  # the creator's current rights, again


def test_a_token_of_a_creator_demoted_to_staff_keeps_only_what_staff_may_do(app, shop):
    manager = shop.add_user("manager@example.com", "manager")
    stocker = till(app, new_token(manager, "stock")["token"])
    product = shop.add_product("Milk", stock=5)
    assert shop.patch(f"/api/users/{manager.user['id']}", json={"role": "staff"}).status_code == 200
    # Staff adjust stock and read products: so does the token.
    assert stocker.post(f"/api/products/{product['id']}/stock", json={"delta": -1, "reason": "sale"}).status_code \
        == 200
    assert stocker.get("/api/products").status_code == 200
    # Nothing staff may not do: thresholds, archiving, settings.
    assert stocker.open(f"/api/products/{product['id']}", "PATCH", json={"low_stock_threshold": 0}).status_code \
        == 403
    assert stocker.open(f"/api/products/{product['id']}", "DELETE").status_code == 403
    assert stocker.post("/api/notifications/settings", json={"low_stock_threshold": 0}).status_code == 403
    assert shop.get(f"/api/products/{product['id']}").get_json()["low_stock_threshold"] is None


def test_a_403_for_staff_writes_no_settings_row(app, shop):
    staff = shop.add_user("staff@example.com", "staff")
    client_id = shop.client["id"]
    assert count(NotificationSettings, NotificationSettings.client_id == client_id) == 0
    page = staff.http.post("/settings/notifications", data={"low_stock_threshold": "1", "csrf_token": staff.csrf})
    assert page.status_code == 403
    assert staff.post("/api/notifications/settings", json={"low_stock_threshold": 1}).status_code == 403
    assert count(NotificationSettings, NotificationSettings.client_id == client_id) == 0
