"""The Users page (/settings/users) and each person's own page (/settings/account), on SQLite and
PostgreSQL: the same rules as /api/users and /api/auth/password (API.md, Tenancy), through forms
with CSRF tokens that answer 303 with a message, or the page again with the refusal and nothing
changed."""
import re
import sqlite3
import threading
import time

import pytest

from modules.auth.models import AuditEntry, Client, User
from modules.auth.service import authenticate
from modules.extensions import db
from modules.timeutil import shop_time

PASSWORD = "shop-password-123"
NEW_PASSWORD = "a brand new secret 42"


def form_token(person, page="/settings/users"):
    """The CSRF token of the page's forms, as a browser would submit it."""
    response = person.get(page)
    assert response.status_code == 200, response.status_code
    return re.search(r'name="csrf_token" value="([^"]+)"', response.get_data(as_text=True)).group(1)


def submit(person, path, data=None, page="/settings/users"):
    """POST a form of `page` with its own token, without following the redirect."""
    return person.http.post(path, data={"csrf_token": form_token(person, page), **(data or {})})


def people(client_id):
    db.session.rollback()  # a fresh read, not what this session saw before
    rows = db.session.execute(db.select(User).where(User.client_id == client_id).order_by(User.id)).scalars()
    return {u.email: (u.role, u.active) for u in rows}


def signed_in(person):
    return person.get("/api/auth/me").status_code == 200


def can_log_in(app, email, password):
    return app.test_client().post("/api/auth/login", json={"email": email, "password": password}).status_code == 200


def test_owner_adds_staff_and_sees_them_listed_in_shop_time(app, make_shop):
    owner = make_shop("Kiwi Shop", timezone="Pacific/Auckland")
    response = submit(owner, "/settings/users", {"email": "Sam@Example.com", "role": "staff", "password": PASSWORD})
    assert response.status_code == 303 and response.headers["Location"].endswith("/settings/users")
    html = owner.get("/settings/users").get_data(as_text=True)
    assert "sam@example.com is added as staff" in html
    assert people(owner.client["id"])["sam@example.com"] == ("staff", True)
    assert can_log_in(app, "sam@example.com", PASSWORD)
    created = db.session.execute(db.select(User.created_at).where(User.email == "sam@example.com")).scalar_one()
    local = shop_time(created, "Pacific/Auckland")
    assert re.search(r" NZ[DS]T$", local) and local in html
    row = re.search(r'<tr data-email="sam@example.com".*?</tr>', html, re.S).group(0)
    assert ">staff<" in row and "Active" in row


def test_manager_cannot_touch_a_manager(app, shop):
    manager = shop.add_user("manager@example.com", "manager")
    other = shop.add_user("other@example.com", "manager")
    url = f"/settings/users/{other.user['id']}"
    html = manager.get("/settings/users").get_data(as_text=True)
    row = re.search(r'<tr data-email="other@example.com".*?</tr>', html, re.S).group(0)
    assert "<form" not in row and "Only an owner can change a manager" in row
    for path, data in ((f"{url}/role", {"role": "staff"}), (f"{url}/deactivate", {}),
                       (f"{url}/password", {"password": NEW_PASSWORD})):
        response = submit(manager, path, data)
        assert response.status_code == 403, path
        assert "Managers manage staff only; owners manage everyone." in response.get_data(as_text=True)
    assert people(shop.client["id"])["other@example.com"] == ("manager", True)
    assert signed_in(other) and can_log_in(app, "other@example.com", PASSWORD)
    assert not can_log_in(app, "other@example.com", NEW_PASSWORD)


def test_manager_cannot_add_an_owner_or_a_manager_but_adds_staff(shop):
    manager = shop.add_user("manager@example.com", "manager")
    before = people(shop.client["id"])
    for role in ("owner", "manager"):
        response = submit(manager, "/settings/users", {"email": f"new-{role}@example.com", "role": role,
                                                      "password": PASSWORD})
        assert response.status_code == 403
        assert "Managers manage staff only" in response.get_data(as_text=True)
    assert people(shop.client["id"]) == before
    assert submit(manager, "/settings/users", {"email": "till@example.com", "role": "staff",
                                               "password": PASSWORD}).status_code == 303
    assert people(shop.client["id"])["till@example.com"] == ("staff", True)


def test_manager_resets_a_staff_password_like_the_api_allows(app, shop):
    manager = shop.add_user("manager@example.com", "manager")
    staff = shop.add_user("staff@example.com", "staff")
    assert submit(manager, f"/settings/users/{staff.user['id']}/password", {"password": NEW_PASSWORD}).status_code == 303
    assert can_log_in(app, "staff@example.com", NEW_PASSWORD)


def test_nobody_changes_their_own_role(shop):
    manager = shop.add_user("manager@example.com", "manager")
    me = shop.user["id"]
    for path, data, reason in ((f"/settings/users/{me}/role", {"role": "staff"}, "You cannot change your own role"),
                               (f"/settings/users/{me}/deactivate", {}, "You cannot deactivate yourself.")):
        response = submit(shop, path, data)
        assert response.status_code == 400 and reason in response.get_data(as_text=True), path
    response = submit(manager, f"/settings/users/{manager.user['id']}/role", {"role": "owner"})
    assert response.status_code in (400, 403)
    assert people(shop.client["id"]) == {shop.email: ("owner", True), "manager@example.com": ("manager", True)}
    assert signed_in(shop) and signed_in(manager)


def test_own_password_is_not_reset_from_the_users_page(app, shop):
    response = submit(shop, f"/settings/users/{shop.user['id']}/password", {"password": NEW_PASSWORD})
    assert response.status_code == 400
    assert "Account page" in response.get_data(as_text=True)
    assert can_log_in(app, shop.email, PASSWORD) and signed_in(shop)


def _hold_the_shop_lock(app, client_id):
    """Lock what `lock_shop` waits for, from a connection of the test's own; returns its release()."""
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url.split("///", 1)[1], timeout=30, isolation_level=None, check_same_thread=False)
        conn.execute("BEGIN IMMEDIATE")

        def release():
            conn.execute("COMMIT")
            conn.close()
        return release
    conn = db.engine.connect()
    transaction = conn.begin()
    conn.execute(db.select(Client.id).where(Client.id == client_id).with_for_update())

    def release():
        transaction.commit()
        conn.close()
    return release


def test_the_last_active_owner_is_kept_with_the_409_message(app, shop):
    second = shop.add_user("second@example.com", "owner")
    first_token, second_token = form_token(shop), form_token(second)
    release = _hold_the_shop_lock(app, shop.client["id"])
    answers = {}

    def demote(name, actor, token, target_id):
        response = actor.http.post(f"/settings/users/{target_id}/role", data={"csrf_token": token, "role": "staff"})
        answers[name] = (response.status_code, response.get_data(as_text=True))

    # Both pass the role checks while both are owners, then wait for the shop's lock: the first to
    # get it demotes its target, and the other would remove the last active owner.
    threads = [threading.Thread(target=demote, args=("first", shop, first_token, second.user["id"])),
               threading.Thread(target=demote, args=("second", second, second_token, shop.user["id"]))]
    for t in threads:
        t.start()
    time.sleep(1.5)
    release()
    for t in threads:
        t.join(60)
    statuses = sorted(status for status, _ in answers.values())
    assert statuses == [303, 409], statuses
    refused = next(html for status, html in answers.values() if status == 409)
    assert "A shop must keep at least one active owner." in refused
    owners = [email for email, (role, active) in people(shop.client["id"]).items() if role == "owner" and active]
    assert len(owners) == 1


def test_deactivate_then_reactivate(app, shop):
    staff = shop.add_user("staff@example.com", "staff")
    response = submit(shop, f"/settings/users/{staff.user['id']}/deactivate")
    assert response.status_code == 303
    assert "staff@example.com is deactivated" in shop.get("/settings/users").get_data(as_text=True)
    assert people(shop.client["id"])["staff@example.com"] == ("staff", False)
    assert not signed_in(staff) and authenticate("staff@example.com", PASSWORD) is None  # no throttle
    assert submit(shop, f"/settings/users/{staff.user['id']}/reactivate").status_code == 303
    assert people(shop.client["id"])["staff@example.com"] == ("staff", True)
    assert can_log_in(app, "staff@example.com", PASSWORD)
    actions = db.session.execute(db.select(AuditEntry.action).where(AuditEntry.client_id == shop.client["id"])
                                 .order_by(AuditEntry.id)).scalars().all()
    assert actions[-2:] == ["user.deactivate", "user.update"]


def test_owner_changes_a_role_and_their_sessions_end(shop):
    staff = shop.add_user("staff@example.com", "staff")
    assert submit(shop, f"/settings/users/{staff.user['id']}/role", {"role": "manager"}).status_code == 303
    assert people(shop.client["id"])["staff@example.com"] == ("manager", True)
    assert not signed_in(staff)


def test_staff_get_403(shop):
    staff = shop.add_user("staff@example.com", "staff")
    response = staff.get("/settings/users")
    assert response.status_code == 403 and "Only owners and managers can do this." in response.get_data(as_text=True)
    token = form_token(staff, "/settings/account")
    before = people(shop.client["id"])
    for path, data in (("/settings/users", {"email": "x@example.com", "role": "staff", "password": PASSWORD}),
                       (f"/settings/users/{shop.user['id']}/deactivate", {}),
                       (f"/settings/users/{shop.user['id']}/password", {"password": NEW_PASSWORD})):
        assert staff.http.post(path, data={"csrf_token": token, **data}).status_code == 403, path
    assert people(shop.client["id"]) == before
    assert 'href="/settings/users"' not in staff.get("/settings/account").get_data(as_text=True)


def test_another_shops_person_is_not_found(shop, other_shop):
    target = other_shop.user["id"]
    assert submit(shop, f"/settings/users/{target}/deactivate").status_code == 404
    assert submit(shop, f"/settings/users/{target}/password", {"password": NEW_PASSWORD}).status_code == 404
    assert people(other_shop.client["id"])[other_shop.email] == ("owner", True)
    assert other_shop.email not in shop.get("/settings/users").get_data(as_text=True)


@pytest.mark.parametrize("data, field", [
    ({"email": "not an email", "role": "staff", "password": PASSWORD}, "email"),
    ({"email": "short@example.com", "role": "staff", "password": "short"}, "password"),
    ({"email": "common@example.com", "role": "staff", "password": "password123"}, "password"),
    ({"email": "admin@example.com", "role": "admin", "password": PASSWORD}, "role"),
    ({"email": "", "role": "staff", "password": PASSWORD}, "email"),
])
def test_bad_input_on_the_add_form_rerenders_400_and_changes_nothing(shop, data, field):
    before = people(shop.client["id"])
    response = submit(shop, "/settings/users", data)
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Nothing was changed" in html and f'data-field="{field}"' in html
    assert people(shop.client["id"]) == before


def test_a_taken_email_is_refused_with_409(shop, other_shop):
    response = submit(shop, "/settings/users", {"email": other_shop.email, "role": "staff", "password": PASSWORD})
    assert response.status_code == 409
    assert "An account with this email already exists." in response.get_data(as_text=True)
    assert other_shop.email not in people(shop.client["id"])


def test_bad_reset_password_rerenders_400_and_keeps_the_old_one(app, shop):
    staff = shop.add_user("staff@example.com", "staff")
    response = submit(shop, f"/settings/users/{staff.user['id']}/password", {"password": "password123"})
    assert response.status_code == 400
    assert 'data-field="password"' in response.get_data(as_text=True)
    assert can_log_in(app, "staff@example.com", PASSWORD) and signed_in(staff)


def test_reset_password_works_and_the_old_password_fails(app, shop):
    staff = shop.add_user("staff@example.com", "staff")
    response = submit(shop, f"/settings/users/{staff.user['id']}/password", {"password": NEW_PASSWORD})
    assert response.status_code == 303
    assert "staff@example.com has a new password" in shop.get("/settings/users").get_data(as_text=True)
    assert not signed_in(staff)
    assert can_log_in(app, "staff@example.com", NEW_PASSWORD)
    assert not can_log_in(app, "staff@example.com", PASSWORD)  # last: a failure makes the next sign-in wait
    entry = db.session.execute(db.select(AuditEntry).where(AuditEntry.action == "user.password_reset")).scalar_one()
    assert NEW_PASSWORD not in entry.target + entry.changes


def test_account_password_change_ends_other_sessions_but_keeps_this_one(app, shop):
    staff = shop.add_user("staff@example.com", "staff")
    elsewhere = staff.__class__(app, "staff@example.com", PASSWORD)
    elsewhere.login()
    response = submit(staff, "/settings/account/password",
                      {"current_password": PASSWORD, "new_password": NEW_PASSWORD}, page="/settings/account")
    assert response.status_code == 303 and response.headers["Location"].endswith("/settings/account")
    assert "Your password is changed" in staff.get("/settings/account").get_data(as_text=True)
    assert signed_in(staff) and not signed_in(elsewhere)
    assert can_log_in(app, "staff@example.com", NEW_PASSWORD) and not can_log_in(app, "staff@example.com", PASSWORD)
    # The same session's next form still works (its CSRF token stayed).
    assert submit(staff, "/settings/account/password", {"current_password": NEW_PASSWORD,
                                                       "new_password": PASSWORD + "!"},
                  page="/settings/account").status_code == 303


@pytest.mark.parametrize("data, field", [
    ({"current_password": "wrong password 99", "new_password": NEW_PASSWORD}, "current_password"),
    ({"current_password": "", "new_password": NEW_PASSWORD}, "current_password"),
    ({"current_password": PASSWORD, "new_password": "short"}, "new_password"),
    ({"current_password": PASSWORD, "new_password": "password123"}, "new_password"),
])
def test_account_password_change_with_bad_input_is_400_and_changes_nothing(app, shop, data, field):
    elsewhere = shop.__class__(app, shop.email, PASSWORD)
    elsewhere.login()
    response = submit(shop, "/settings/account/password", data, page="/settings/account")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert f'data-field="{field}"' in html and "Your password is unchanged" in html
    assert can_log_in(app, shop.email, PASSWORD) and signed_in(shop) and signed_in(elsewhere)


def test_sign_out_everywhere(app, shop):
    elsewhere = shop.__class__(app, shop.email, PASSWORD)
    elsewhere.login()
    response = submit(shop, "/settings/account/sign-out-everywhere", page="/settings/account")
    assert response.status_code == 303 and "/login" in response.headers["Location"]
    assert not signed_in(shop) and not signed_in(elsewhere)
    assert "You are signed out everywhere" in shop.get("/login").get_data(as_text=True)
    assert can_log_in(app, shop.email, PASSWORD)


def test_account_page_links_to_preferences_and_the_nav_shows_users_to_managers_only(shop):
    staff = shop.add_user("staff@example.com", "staff")
    owner_html = shop.get("/settings/account").get_data(as_text=True)
    assert 'href="/settings/preferences"' in owner_html and 'href="/settings/users"' in owner_html
    staff_html = staff.get("/settings/account").get_data(as_text=True)
    assert 'href="/settings/preferences"' in staff_html and 'href="/settings/users"' not in staff_html
    assert staff.get("/settings/preferences").status_code == 200


def test_forms_without_a_csrf_token_are_refused(shop):
    staff = shop.add_user("staff@example.com", "staff")
    assert shop.http.post(f"/settings/users/{staff.user['id']}/deactivate").status_code == 400
    assert shop.http.post("/settings/account/sign-out-everywhere").status_code == 400
    assert people(shop.client["id"])["staff@example.com"] == ("staff", True) and signed_in(shop)
