"""The bell's poll answered in front of Flask (modules/notifications/poll.py): the same answer and
headers as the route, no Flask request at all, and every session rule of the route kept: an
ended, tampered, foreign or deactivated session is the route's 401; a remember cookie, a bearer
token, a query string and a dropped database connection take the route's path and still count."""
import hashlib
import time

import pytest
from flask import request_started
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import event

from modules.auth.models import User
from modules.extensions import db
from modules.outage import remove_session_safely

from tests.support.app import cluster_for, statements_of
from tests.support.shops import new_token, till

POLL = "/api/notifications/unread-count"


def ring(shop, n):
    for i in range(n):
        product = shop.add_product(f"Item {i}", stock=10)
        response = shop.post(f"/api/products/{product['id']}/stock", json={"delta": -9, "reason": "sale"})
        assert response.status_code == 200


def through_flask(app, call):
    """(the response, how many Flask requests it took)."""
    seen = []

    def started(sender, **extra):
        seen.append(1)

    with request_started.connected_to(started, app):
        response = call()
    return response, len(seen)


def test_the_poll_answers_without_a_flask_request_with_the_routes_body_and_headers(app, shop):
    ring(shop, 3)
    fast, requests = through_flask(app, lambda: shop.get(POLL))
    assert requests == 0
    routed, routed_requests = through_flask(app, lambda: shop.get(POLL + "?via=route"))
    assert routed_requests == 1
    assert fast.status_code == routed.status_code == 200
    assert fast.get_json() == routed.get_json() == {"count": 3}
    assert fast.data == routed.data
    without_cookies = {k: v for k, v in routed.headers.items() if k != "Set-Cookie"}
    assert dict(fast.headers) == without_cookies


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_poll_is_one_statement(app, shop):
    """SQLite's own trace of what ran on the connection the poll borrowed (the PostgreSQL poll
    runs the same statement with its driver's placeholders)."""
    ring(shop, 1)
    statements = []

    def trace(dbapi_connection, record, proxy):
        dbapi_connection.set_trace_callback(statements.append)

    def untrace(dbapi_connection, record):
        dbapi_connection.set_trace_callback(None)

    event.listen(db.engine, "checkout", trace)
    event.listen(db.engine, "checkin", untrace)
    try:
        assert shop.get(POLL).get_json() == {"count": 1}
    finally:
        event.remove(db.engine, "checkout", trace)
        event.remove(db.engine, "checkin", untrace)
    assert len(statements) == 1, statements
    assert statements[0].startswith("SELECT u.client_id, (SELECT count(*) FROM notifications")


def test_the_bells_list_loads_no_user_through_the_orm(app, shop):
    """Opening the bell: the live-session read (with the count) and the list, nothing else."""
    ring(shop, 2)
    response = []
    statements = statements_of(app, lambda: response.append(shop.get("/api/notifications?limit=1")))
    body = response[0].get_json()
    assert body["unread_count"] == 2 and len(body["items"]) == 1
    assert len(statements) == 2, statements
    assert statements[0].startswith("SELECT u.client_id, (SELECT count(*) FROM notifications")
    assert "FROM notifications" in statements[1]


def test_the_bells_list_ends_with_the_session_and_still_takes_a_remember_cookie(app, shop):
    ring(shop, 1)
    thief = copied_session(app, shop)
    shop.http.post("/api/auth/login", json={"email": shop.email, "password": shop.password, "remember": True})
    remembered = app.test_client()
    remembered.set_cookie("remember_token", shop.http.get_cookie("remember_token").value)
    assert remembered.get("/api/notifications").get_json()["unread_count"] == 1
    assert thief.get("/api/notifications").get_json()["unread_count"] == 1
    shop.login()
    assert shop.post("/api/auth/logout-everywhere", json={}).status_code == 204
    assert thief.get("/api/notifications").status_code == 401
    assert remembered.get("/api/notifications").status_code == 401


@pytest.mark.parametrize("app_config", [{"SECRET_KEY": "the new key", "SECRET_KEY_FALLBACKS": ["the old key"]}])
def test_a_cookie_signed_with_a_fallback_key_is_taken_as_the_route_takes_it(app, shop):
    """After a key rotation, sessions signed with the old key still work until they expire."""
    ring(shop, 1)
    serializer = app.session_interface.get_signing_serializer(app)
    data = serializer.loads(shop.http.get_cookie("session").value)
    app.secret_key = "the old key"  # sign as the install did before the rotation
    app.config["SECRET_KEY_FALLBACKS"] = []
    old = app.session_interface.get_signing_serializer(app).dumps(data)
    app.secret_key, app.config["SECRET_KEY_FALLBACKS"] = "the new key", ["the old key"]
    client = app.test_client()
    client.set_cookie("session", old)
    response, requests = through_flask(app, lambda: client.get(POLL))
    assert response.get_json() == {"count": 1} and requests == 0
    assert client.get(POLL + "?via=route").get_json() == {"count": 1}


def test_the_poll_counts_only_the_users_own_unread(app, shop, other_shop):
    staff = shop.add_user("staff@example.com", "staff")
    ring(shop, 2)
    ring(other_shop, 1)
    first = shop.get("/api/notifications").get_json()["items"][0]
    assert shop.post(f"/api/notifications/{first['id']}/read").status_code == 200
    assert shop.get(POLL).get_json() == {"count": 1}
    assert staff.get(POLL).get_json() == {"count": 2}
    assert other_shop.get(POLL).get_json() == {"count": 1}
    assert shop.post("/api/notifications/read-all").status_code == 200
    assert through_flask(app, lambda: shop.get(POLL))[0].get_json() == {"count": 0}


def copied_session(app, source):
    thief = app.test_client()
    thief.set_cookie("session", source.http.get_cookie("session").value)
    return thief


def test_a_copied_cookie_stops_at_the_poll_after_logout_everywhere(app, shop):
    ring(shop, 1)
    thief = copied_session(app, shop)
    assert thief.get(POLL).get_json() == {"count": 1}
    assert shop.post("/api/auth/logout-everywhere", json={}).status_code == 204
    response = thief.get(POLL)
    assert response.status_code == 401 and response.get_json()["error"]


def test_a_copied_cookie_stops_at_the_poll_after_a_password_change(app, shop):
    thief = copied_session(app, shop)
    assert thief.get(POLL).status_code == 200
    assert shop.post("/api/auth/password", json={"current_password": shop.password,
                                                 "new_password": "a new long passphrase"}).status_code == 204
    assert thief.get(POLL).status_code == 401
    assert shop.get(POLL).get_json() == {"count": 0}  # the caller keeps its session


def test_a_deactivated_users_poll_is_401(app, shop):
    staff = shop.add_user("staff@example.com", "staff")
    thief = copied_session(app, staff)
    assert shop.patch(f"/api/users/{staff.user['id']}", json={"active": False}).status_code == 200
    assert thief.get(POLL).status_code == 401


def test_a_tampered_or_foreign_cookie_is_the_routes_401(app, shop, client):
    real = shop.http.get_cookie("session").value
    forged = URLSafeTimedSerializer("another install's key", salt="cookie-session", signer_kwargs={
        "key_derivation": "hmac", "digest_method": hashlib.sha1}).dumps({"_user_id": f"{shop.user['id']}:1"})
    for value in (real[:-2] + ("AA" if not real.endswith("AA") else "BB"), forged, "garbage", "", "." * 3000):
        client.set_cookie("session", value)
        response = client.get(POLL)
        assert response.status_code == 401, value
        assert response.get_json()["error"]


@pytest.mark.parametrize("app_config", [{"PERMANENT_SESSION_LIFETIME": 2}])
def test_a_cookie_past_its_lifetime_is_refused_though_it_verified_before(app, shop):
    response, requests = through_flask(app, lambda: shop.get(POLL))
    assert response.status_code == 200 and requests == 0  # verified, and remembered as verified
    time.sleep(3.5)
    response, requests = through_flask(app, lambda: shop.get(POLL))
    assert response.status_code == 401 and requests == 1  # the poll refused it; so did the route


def test_a_remember_cookie_alone_still_counts_and_a_bearer_token_meets_the_routes_rules(app, shop):
    ring(shop, 2)
    shop.http.post("/api/auth/login", json={"email": shop.email, "password": shop.password, "remember": True})
    remembered = app.test_client()
    remembered.set_cookie("remember_token", shop.http.get_cookie("remember_token").value)
    shop.login()  # a fresh CSRF token for the calls below
    response, requests = through_flask(app, lambda: remembered.get(POLL))
    assert response.get_json() == {"count": 2} and requests == 1
    token = new_token(shop, "read")["token"]
    response = till(app, token).get(POLL)  # a till is not a person: it has no bell
    assert response.status_code == 403 and "count" not in response.get_json()


def test_a_session_of_a_user_with_a_new_version_in_the_database_is_401(app, shop):
    """The poll reads the session version from the database on every poll, not from a cache."""
    assert shop.get(POLL).status_code == 200
    db.session.execute(db.update(User).where(User.id == shop.user["id"]).values(
        session_version=User.session_version + 1))
    db.session.commit()
    assert shop.get(POLL).status_code == 401


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_a_connection_the_server_dropped_costs_the_poll_nothing(app, shop, database_url):
    ring(shop, 1)
    assert through_flask(app, lambda: shop.get(POLL))[1] == 0  # the poll's pool holds a connection
    cluster, name = cluster_for(database_url)
    cluster.execute(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    f"WHERE datname = '{name}' AND pid <> pg_backend_pid()")
    # The test's app context outlives the requests above and kept a connection; in production
    # each request ends its own session (this teardown), and the route's pool pings before use.
    remove_session_safely()
    response, requests = through_flask(app, lambda: shop.get(POLL))
    assert response.status_code == 200 and response.get_json() == {"count": 1}
    assert requests == 1  # the dropped connection was thrown away; the route answered
    assert through_flask(app, lambda: shop.get(POLL))[1] == 0  # and the next poll is fast again

