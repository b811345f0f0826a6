"""Sign-up, sign-in, CSRF, sessions and users, as a client program meets them."""
import re

import pytest

from modules.auth.models import Client, User
from modules.extensions import db
from tests.support.shops import ApiClient


def count(model):
    return db.session.execute(db.select(db.func.count()).select_from(model)).scalar_one()


def test_register_signs_in_and_returns_csrf(client):
    response = client.post("/api/auth/register", json={
        "shop_name": "Bakery", "email": "Anna@Example.com", "password": "shop-password-123", "timezone": "Europe/Berlin"})
    assert response.status_code == 201
    body = response.get_json()
    assert body["user"]["email"] == "anna@example.com" and body["user"]["role"] == "owner"
    assert body["client"]["timezone"] == "Europe/Berlin" and body["csrf_token"]
    assert client.get("/api/auth/me").get_json()["client"]["name"] == "Bakery"


@pytest.mark.parametrize("body, field", [
    ({"shop_name": "", "email": "a@example.com", "password": "shop-password-123"}, "shop_name"),
    ({"shop_name": "S", "email": "not-an-email", "password": "shop-password-123"}, "email"),
    ({"shop_name": "S", "email": "a@example.com", "password": "short"}, "password"),
    ({"shop_name": "S", "email": "a@example.com", "password": "shop-password-123", "timezone": "Mars/Base"}, "timezone"),
    ({"shop_name": "S", "email": "a@example.com", "password": "shop-password-123", "plan": "gold"}, "plan"),
    ({"shop_name": 7, "email": "a@example.com", "password": "shop-password-123"}, "shop_name"),
])
def test_register_refuses_bad_input_and_writes_nothing(client, body, field):
    response = client.post("/api/auth/register", json=body)
    assert response.status_code == 400
    assert field in response.get_json()["details"]
    assert count(Client) == 0 and count(User) == 0


def test_register_requires_json(client):
    response = client.post("/api/auth/register", data={"shop_name": "S"})
    assert response.status_code == 415
    assert response.get_json()["error"]


def test_passwords_are_hashed_with_the_configured_method_scrypt_unless_told(app, shop, tmp_path):
    from modules.config import load_config

    assert load_config(instance=tmp_path)["PASSWORD_HASH_METHOD"] == "scrypt"
    stored = db.session.execute(db.select(User.password_hash).where(User.email == shop.email)).scalar_one()
    assert stored.startswith(app.config["PASSWORD_HASH_METHOD"] + "$")  # the tests' cheap method


@pytest.mark.parametrize("app_config", [{"ALLOW_SIGNUP": False}])
def test_signup_can_be_closed(client):
    response = client.post("/api/auth/register", json={
        "shop_name": "S", "email": "a@example.com", "password": "shop-password-123"})
    assert response.status_code == 403
    assert client.get("/register").status_code == 403
    assert count(Client) == 0


def test_login_failure_does_not_tell_whether_email_exists(client, shop):
    wrong_password = client.post("/api/auth/login", json={"email": shop.email, "password": "wrong-password"})
    unknown_email = client.post("/api/auth/login", json={"email": "nobody@example.com", "password": "wrong-password"})
    assert wrong_password.status_code == unknown_email.status_code == 401
    assert wrong_password.get_json() == unknown_email.get_json()


def test_repeated_failed_logins_are_answered_429(client, shop):
    assert client.post("/api/auth/login", json={"email": shop.email, "password": "bad-guess"}).status_code == 401
    locked = client.post("/api/auth/login", json={"email": shop.email, "password": shop.password})
    assert locked.status_code == 429 and locked.headers["Retry-After"] == "1"
    # Another email is not affected.
    assert client.post("/api/auth/login", json={"email": "x@example.com", "password": "bad-guess"}).status_code == 401


def test_state_changing_request_without_csrf_token_is_refused(shop):
    response = shop.http.post("/api/products", json={"name": "Tea"})
    assert response.status_code == 400
    assert "CSRF" in response.get_json()["error"]
    assert shop.get("/api/products").get_json()["total"] == 0


def test_csrf_endpoint_token_works_for_requests(shop):
    token = shop.get("/api/auth/csrf").get_json()["csrf_token"]
    response = shop.http.post("/api/products", json={"name": "Tea"}, headers={"X-CSRFToken": token})
    assert response.status_code == 201


def test_api_needs_sign_in(client):
    response = client.get("/api/products")
    assert response.status_code == 401
    assert response.get_json()["error"]


def test_pages_redirect_to_login_with_next(client):
    response = client.get("/retail/products?stock=low")
    assert response.status_code == 302
    assert "/login?next=" in response.headers["Location"]


def test_logout_ends_session(shop):
    assert shop.post("/api/auth/logout").status_code == 204
    assert shop.get("/api/auth/me").status_code == 401


def test_session_cookie_is_httponly_and_samesite_lax(client, shop):
    response = client.post("/api/auth/login", json={"email": shop.email, "password": shop.password})
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def _form_token(client, path):
    html = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_html_login_redirects_to_safe_next_only(client, shop):
    token = _form_token(client, "/login")
    ok = client.post("/login", data={"csrf_token": token, "email": shop.email, "password": shop.password,
                                     "next": "/retail/products?stock=low"})
    assert ok.status_code == 303 and ok.headers["Location"].endswith("/retail/products?stock=low")
    client.post("/logout", data={"csrf_token": _form_token(client, "/retail/products")})
    token = _form_token(client, "/login")
    evil = client.post("/login", data={"csrf_token": token, "email": shop.email, "password": shop.password,
                                       "next": "//evil.example.com/x"})
    assert evil.status_code == 303 and "evil" not in evil.headers["Location"]


def test_html_login_with_wrong_password_rerenders(client, shop):
    token = _form_token(client, "/login")
    response = client.post("/login", data={"csrf_token": token, "email": shop.email, "password": "nope-nope"})
    assert response.status_code == 401
    assert "Invalid email or password." in response.get_data(as_text=True)


def test_html_register_with_bad_input_rerenders_400_and_writes_nothing(client):
    token = _form_token(client, "/register")
    response = client.post("/register", data={"csrf_token": token, "shop_name": "Shop", "email": "bad",
                                              "password": "short", "timezone": "UTC"})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert 'data-field="email"' in html and 'data-field="password"' in html
    assert count(Client) == 0


def test_html_form_without_csrf_is_refused(client):
    response = client.post("/register", data={"shop_name": "Shop", "email": "a@example.com",
                                              "password": "shop-password-123"})
    assert response.status_code == 400
    assert count(Client) == 0


# --- users and roles --------------------------------------------------------------------------

def test_owner_creates_staff_who_can_sign_in(shop):
    staff = shop.add_user("staff@example.com", "staff")
    assert staff.get("/api/auth/me").get_json()["user"]["role"] == "staff"
    assert [u["email"] for u in shop.get("/api/users").get_json()["items"]] == [shop.email, "staff@example.com"]


def test_staff_cannot_list_or_create_users(shop):
    staff = shop.add_user("staff@example.com", "staff")
    assert staff.get("/api/users").status_code == 403
    assert staff.post("/api/users", json={"email": "x@example.com", "password": "shop-password-123",
                                          "role": "staff"}).status_code == 403


def test_manager_cannot_create_owner(shop):
    manager = shop.add_user("manager@example.com", "manager")
    response = manager.post("/api/users", json={"email": "o2@example.com", "password": "shop-password-123", "role": "owner"})
    assert response.status_code == 403
    assert count(User) == 2


def test_create_user_validates_and_conflicts(shop):
    bad = shop.post("/api/users", json={"email": "x@example.com", "password": "shop-password-123", "role": "admin"})
    assert bad.status_code == 400 and "role" in bad.get_json()["details"]
    taken = shop.post("/api/users", json={"email": shop.email, "password": "shop-password-123", "role": "staff"})
    assert taken.status_code == 409


def test_deactivated_user_cannot_sign_in(app, shop):
    staff = shop.add_user("staff@example.com", "staff")
    assert shop.delete(f"/api/users/{staff.user['id']}").status_code == 204
    again = ApiClient(app, "staff@example.com")
    assert again.http.post("/api/auth/login", json={"email": "staff@example.com",
                                                    "password": "shop-password-123"}).status_code == 401
    # The old session is no longer honoured either.
    assert staff.get("/api/auth/me").status_code == 401


def test_owner_cannot_demote_self(shop):
    response = shop.patch(f"/api/users/{shop.user['id']}", json={"role": "staff"})
    assert response.status_code == 400
    assert shop.get("/api/auth/me").get_json()["user"]["role"] == "owner"


def test_register_with_taken_email_is_409_and_race_is_not_500(app, client, shop):
    import threading

    taken = client.post("/api/auth/register", json={"shop_name": "Copy", "email": shop.email,
                                                     "password": "shop-password-123"})
    assert taken.status_code == 409 and "email" in taken.get_json()["details"]
    statuses = []

    def register():
        statuses.append(app.test_client().post("/api/auth/register", json={
            "shop_name": "Twin", "email": "twin@example.com", "password": "shop-password-123"}).status_code)

    threads = [threading.Thread(target=register) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(statuses) == [201, 409, 409, 409]


def test_unauthenticated_write_is_401_not_csrf_400(client):
    response = client.post("/api/products", json={"name": "Tea"})
    assert response.status_code == 401


def test_patch_user_with_null_is_400(shop):
    staff = shop.add_user("staff@example.com", "staff")
    for body in ({"role": None}, {"password": None}, {"active": None}):
        response = shop.patch(f"/api/users/{staff.user['id']}", json=body)
        assert response.status_code == 400, body


def test_a_strangers_guesses_only_delay_that_stranger(app, client, shop):
    """Guesses from elsewhere make that address wait for that account (never for good); the owner,
    from their own address, is not slowed at all."""
    from modules.auth.models import LoginAttempt

    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        db.session.execute(db.update(LoginAttempt).values(blocked_until=None))  # the delay has passed
        db.session.commit()
        assert client.post("/api/auth/login", json={"email": shop.email, "password": "bad-guess"},
                           environ_base={"REMOTE_ADDR": "203.0.113.9"}).status_code == 401
    waiting = client.post("/api/auth/login", json={"email": shop.email, "password": shop.password},
                          environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert waiting.status_code == 429 and int(waiting.headers["Retry-After"]) > 800
    assert client.post("/api/auth/login", json={"email": shop.email, "password": shop.password}).status_code == 200
