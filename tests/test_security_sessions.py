"""Sessions that end: a copied session or remember-me cookie stops working after logout-everywhere,
a password change, a deactivation and a role change; a CSRF token dies with its session."""
from tests.support.app import statements_of
from tests.support.shops import ApiClient


def copy_cookies(app, source, *names):
    """A second browser holding copies of `source`'s cookies (what a thief would have)."""
    thief = app.test_client()
    for name in names:
        cookie = source.http.get_cookie(name)
        assert cookie is not None, name
        thief.set_cookie(name, cookie.value)
    return thief


def me(http):
    return http.get("/api/auth/me").status_code


def test_copied_cookie_stops_working_after_logout_everywhere(app, shop):
    thief = copy_cookies(app, shop, "session")
    assert me(thief) == 200
    assert shop.post("/api/auth/logout-everywhere").status_code == 204
    assert me(thief) == 401
    assert me(shop.http) == 401


def test_logout_everywhere_ends_remember_cookies(app, shop):
    shop.http.post("/api/auth/login", json={"email": shop.email, "password": shop.password, "remember": True})
    remembered = copy_cookies(app, shop, "remember_token")
    assert me(remembered) == 200
    shop.login()
    assert shop.post("/api/auth/logout-everywhere").status_code == 204
    assert me(remembered) == 401


def test_copied_cookie_stops_working_after_password_change(app, shop):
    thief = copy_cookies(app, shop, "session")
    response = shop.post("/api/auth/password", json={"current_password": shop.password,
                                                     "new_password": "a new long passphrase"})
    assert response.status_code == 204
    assert me(thief) == 401
    # The caller stays signed in, with the same CSRF token.
    assert me(shop.http) == 200
    assert shop.post("/api/products", json={"name": "Tea"}).status_code == 201


def test_remember_cookie_stops_working_after_password_change(app, shop):
    shop.http.post("/api/auth/login", json={"email": shop.email, "password": shop.password, "remember": True})
    remembered = copy_cookies(app, shop, "remember_token")
    assert me(remembered) == 200
    shop.login()
    assert shop.post("/api/auth/password", json={"current_password": shop.password,
                                                 "new_password": "a new long passphrase"}).status_code == 204
    assert me(remembered) == 401


def test_password_change_needs_the_current_password(app, client, shop):
    wrong = shop.post("/api/auth/password", json={"current_password": "not-my-password",
                                                  "new_password": "a new long passphrase"})
    assert wrong.status_code == 400
    assert "current_password" in wrong.get_json()["details"]
    missing = shop.post("/api/auth/password", json={"new_password": "a new long passphrase"})
    assert missing.status_code == 400 and "current_password" in missing.get_json()["details"]
    # Nothing changed: the old password still signs in, the new one does not.
    assert client.post("/api/auth/login", json={"email": shop.email, "password": shop.password}).status_code == 200
    assert client.post("/api/auth/login", json={"email": shop.email,
                                                "password": "a new long passphrase"}).status_code == 401


def test_changed_password_signs_in_and_old_one_does_not(client, shop):
    assert shop.post("/api/auth/password", json={"current_password": shop.password,
                                                 "new_password": "a new long passphrase"}).status_code == 204
    assert client.post("/api/auth/login", json={"email": shop.email,
                                                "password": "a new long passphrase"}).status_code == 200
    assert client.post("/api/auth/login", json={"email": shop.email, "password": shop.password}).status_code == 401


def test_own_password_cannot_be_changed_through_users_without_the_current_one(shop):
    response = shop.patch(f"/api/users/{shop.user['id']}", json={"password": "a new long passphrase"})
    assert response.status_code == 400
    assert me(shop.http) == 200


def test_deactivation_ends_the_users_sessions(app, shop):
    staff = shop.add_user("staff@example.com", "staff")
    thief = copy_cookies(app, staff, "session")
    assert shop.patch(f"/api/users/{staff.user['id']}", json={"active": False}).status_code == 200
    assert me(thief) == 401
    # Active again, the old cookie still does not come back to life.
    assert shop.patch(f"/api/users/{staff.user['id']}", json={"active": True}).status_code == 200
    assert me(thief) == 401


def test_role_change_ends_the_users_sessions(app, shop):
    staff = shop.add_user("staff@example.com", "staff")
    assert shop.patch(f"/api/users/{staff.user['id']}", json={"role": "manager"}).status_code == 200
    assert me(staff.http) == 401
    staff.login()
    assert staff.get("/api/auth/me").get_json()["user"]["role"] == "manager"


def test_password_reset_by_an_owner_ends_the_users_sessions(shop):
    staff = shop.add_user("staff@example.com", "staff")
    assert shop.patch(f"/api/users/{staff.user['id']}", json={"password": "reset by the owner"}).status_code == 200
    assert me(staff.http) == 401


def test_csrf_token_does_not_outlive_its_session(shop):
    old_token = shop.csrf
    assert shop.post("/api/auth/logout").status_code == 204
    shop.login()
    assert shop.csrf != old_token
    stale = shop.http.post("/api/products", json={"name": "Tea"}, headers={"X-CSRFToken": old_token})
    assert stale.status_code == 400
    assert shop.post("/api/products", json={"name": "Tea"}).status_code == 201


def test_session_ids_without_a_live_session_row_are_refused(app, shop):
    """A cookie whose id carries no session key (from before keys), another key, or another
    version is nobody."""
    with shop.http.session_transaction() as stored:
        session_id = stored["_user_id"]
    user_id, version, key = session_id.split(":")
    with app.test_request_context():
        from modules.auth.sessions import load_user
        assert load_user(session_id) is not None
        assert load_user(f"{user_id}:{version}") is None
        assert load_user(str(user_id)) is None
        assert load_user(f"{user_id}:{int(version) + 1}:{key}") is None
        assert load_user(f"{user_id}:{version}:{'x' * len(key)}") is None
        assert load_user(f"{2**40}:1:{key}") is None


def test_a_plain_logout_ends_every_copy_of_that_session_only(app, shop):
    thief = copy_cookies(app, shop, "session")
    other_browser = ApiClient(app, shop.email, shop.password)
    other_browser.login()
    assert me(thief) == 200
    assert shop.post("/api/auth/logout").status_code == 204
    assert me(thief) == 401  # the copy died with the session
    assert me(shop.http) == 401
    assert me(other_browser.http) == 200  # the user's other session goes on


def test_a_plain_logout_ends_that_sessions_remember_cookie(app, shop):
    signed_in = shop.http.post("/api/auth/login", json={"email": shop.email, "password": shop.password,
                                                        "remember": True})
    shop.csrf = signed_in.get_json()["csrf_token"]
    remembered = copy_cookies(app, shop, "remember_token")
    assert me(remembered) == 200
    assert shop.post("/api/auth/logout").status_code == 204
    assert me(remembered) == 401


def test_the_html_logout_ends_the_session_for_every_copy(app, shop):
    thief = copy_cookies(app, shop, "session")
    token = shop.http.get("/api/auth/csrf").get_json()["csrf_token"]
    assert shop.http.post("/logout", data={"csrf_token": token}).status_code == 303
    assert me(thief) == 401


def test_user_loader_is_one_query(app, shop):
    statements = statements_of(app, lambda: shop.get("/api/auth/me"))
    # The user (with its shop, joined): one SELECT before the route's own work.
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 1, statements
