"""The bell's poll and list are ordinary Flask routes that load no user through the ORM: the
user id and session version come from Flask's own session, and one statement by primary key
checks the session is live (the rule of auth/sessions.py) and counts. Every session rule holds:
signed out, an ended or bumped session, a deactivated user, a tampered cookie, another shop."""
import hashlib

import pytest
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import event

from modules.auth.models import User
from modules.extensions import db

POLL = "/api/notifications/unread-count"


def ring(shop, n):
    for i in range(n):
        product = shop.add_product(f"Item {i}", stock=10)
        response = shop.post(f"/api/products/{product['id']}/stock", json={"delta": -9, "reason": "sale"})
        assert response.status_code == 200


def statements_of(call):
    """(what `call` returned, the SQL statements it ran)."""
    statements = []

    def seen(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        result = call()
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    return result, statements


def copied_session(app, source):
    thief = app.test_client()
    thief.set_cookie("session", source.http.get_cookie("session").value)
    return thief


def test_the_poll_is_one_statement_that_loads_no_user(app, shop):
    ring(shop, 2)
    response, statements = statements_of(lambda: shop.get(POLL))
    assert response.get_json() == {"count": 2}
    assert len(statements) == 1, statements
    assert statements[0].startswith("SELECT u.client_id, (SELECT count(*) FROM (SELECT 1 FROM notifications")


def test_the_poll_is_a_flask_route_with_the_apps_headers(app, shop):
    ring(shop, 1)
    response = shop.get(POLL)
    assert response.status_code == 200 and response.get_json() == {"count": 1}
    assert response.headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["ETag"]


def test_the_bells_list_is_the_live_session_read_and_the_list(app, shop):
    ring(shop, 2)
    response, statements = statements_of(lambda: shop.get("/api/notifications?limit=1"))
    body = response.get_json()
    assert body["unread_count"] == 2 and len(body["items"]) == 1
    assert len(statements) == 2, statements
    assert statements[0].startswith("SELECT u.client_id, (SELECT count(*)")
    assert "FROM notifications" in statements[1]


def test_signed_out_is_401(client):
    for path in (POLL, "/api/notifications"):
        response = client.get(path)
        assert response.status_code == 401 and response.get_json()["error"]


def test_the_poll_counts_only_the_users_own_unread(app, shop, other_shop):
    staff = shop.add_user("staff@example.com", "staff")
    ring(shop, 2)
    ring(other_shop, 1)
    first = shop.get("/api/notifications").get_json()["items"][0]
    assert shop.post(f"/api/notifications/{first['id']}/read").status_code == 200
    assert shop.get(POLL).get_json() == {"count": 1}
    assert staff.get(POLL).get_json() == {"count": 2}
    assert other_shop.get(POLL).get_json() == {"count": 1}
    assert [n["message"] for n in other_shop.get("/api/notifications").get_json()["items"]] == [
        "Low Stock Alert: Item 0 - Only 1 remaining (Uncategorized)"]
    assert shop.post("/api/notifications/read-all").status_code == 200
    assert shop.get(POLL).get_json() == {"count": 0}


def test_a_copied_cookie_stops_after_logout_everywhere(app, shop):
    ring(shop, 1)
    thief = copied_session(app, shop)
    assert thief.get(POLL).get_json() == {"count": 1}
    assert shop.post("/api/auth/logout-everywhere", json={}).status_code == 204
    for path in (POLL, "/api/notifications"):
        assert thief.get(path).status_code == 401


def test_a_copied_cookie_stops_after_a_password_change(app, shop):
    thief = copied_session(app, shop)
    assert thief.get(POLL).status_code == 200
    assert shop.post("/api/auth/password", json={"current_password": shop.password,
                                                 "new_password": "a new long passphrase"}).status_code == 204
    assert thief.get(POLL).status_code == 401
    assert shop.get(POLL).get_json() == {"count": 0}  # the caller keeps its session


def test_a_deactivated_users_poll_and_list_are_401(app, shop):
    staff = shop.add_user("staff@example.com", "staff")
    assert staff.get(POLL).status_code == 200
    assert shop.patch(f"/api/users/{staff.user['id']}", json={"active": False}).status_code == 200
    assert staff.get(POLL).status_code == 401
    assert staff.get("/api/notifications").status_code == 401


def test_a_session_whose_version_was_bumped_in_the_database_is_401(app, shop):
    """The session version is read from the database on every poll, not from a cache."""
    assert shop.get(POLL).status_code == 200
    db.session.execute(db.update(User).where(User.id == shop.user["id"]).values(
        session_version=User.session_version + 1))
    db.session.commit()
    assert shop.get(POLL).status_code == 401
    assert shop.get("/api/notifications").status_code == 401


def test_a_tampered_or_foreign_cookie_is_401(app, shop, client):
    real = shop.http.get_cookie("session").value
    forged = URLSafeTimedSerializer("another install's key", salt="cookie-session", signer_kwargs={
        "key_derivation": "hmac", "digest_method": hashlib.sha1}).dumps({"_user_id": f"{shop.user['id']}:1"})
    for value in (real[:-2] + ("AA" if not real.endswith("AA") else "BB"), forged, "garbage", "", "." * 3000):
        client.set_cookie("session", value)
        response = client.get(POLL)
        assert response.status_code == 401, value
        assert response.get_json()["error"]


@pytest.mark.parametrize("app_config", [{"SECRET_KEY": "the new key", "SECRET_KEY_FALLBACKS": ["the old key"]}])
def test_a_cookie_signed_with_a_fallback_key_still_counts(app, shop):
    """After a key rotation, sessions signed with the old key work until they expire: Flask decides."""
    ring(shop, 1)
    data = app.session_interface.get_signing_serializer(app).loads(shop.http.get_cookie("session").value)
    app.secret_key, app.config["SECRET_KEY_FALLBACKS"] = "the old key", []
    old = app.session_interface.get_signing_serializer(app).dumps(data)
    app.secret_key, app.config["SECRET_KEY_FALLBACKS"] = "the new key", ["the old key"]
    client = app.test_client()
    client.set_cookie("session", old)
    assert client.get(POLL).get_json() == {"count": 1}


def test_a_remember_cookie_alone_counts_and_a_token_has_no_bell(app, shop):
    ring(shop, 2)
    shop.http.post("/api/auth/login", json={"email": shop.email, "password": shop.password, "remember": True})
    remembered = app.test_client()
    remembered.set_cookie("remember_token", shop.http.get_cookie("remember_token").value)
    shop.login()  # a fresh CSRF token for the call below
    assert remembered.get(POLL).get_json() == {"count": 2}
    assert remembered.get("/api/notifications").get_json()["unread_count"] == 2
    response = shop.post("/api/tokens", json={"name": "Front till", "scope": "read"})
    assert response.status_code == 201
    till = app.test_client(use_cookies=False)
    answer = till.get(POLL, headers={"Authorization": f"Bearer {response.get_json()['token']}"})
    assert answer.status_code == 403 and "count" not in answer.get_json()  # a till is not a person
