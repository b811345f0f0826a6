"""Roles as in the contract: owners manage everyone, managers manage staff only, nobody changes
their own role, staff cannot silence alerts, and a shop keeps an active owner under concurrency."""
import threading

import pytest

from modules.auth.models import User
from modules.extensions import db


def active_owners(client_id):
    db.session.rollback()  # a fresh read, not what this session saw before
    return db.session.execute(db.select(db.func.count()).select_from(User).where(
        User.client_id == client_id, User.role == "owner", User.active.is_(True))).scalar_one()


@pytest.mark.parametrize("target_role", ["manager", "owner"])
def test_manager_cannot_manage_another_manager_or_an_owner(shop, target_role):
    manager = shop.add_user("manager@example.com", "manager")
    target = shop.add_user("target@example.com", target_role)
    url = f"/api/users/{target.user['id']}"
    assert manager.patch(url, json={"password": "taken over by a manager"}).status_code == 403
    assert manager.patch(url, json={"role": "staff"}).status_code == 403
    assert manager.patch(url, json={"active": False}).status_code == 403
    assert manager.delete(url).status_code == 403
    # The target still signs in with their own password, with their role.
    target.login()
    assert target.get("/api/auth/me").get_json()["user"] == {**target.user, "role": target_role, "active": True}


def test_manager_manages_staff_but_cannot_promote_them(shop):
    manager = shop.add_user("manager@example.com", "manager")
    staff = shop.add_user("staff@example.com", "staff")
    url = f"/api/users/{staff.user['id']}"
    assert manager.patch(url, json={"role": "manager"}).status_code == 403
    assert manager.post("/api/users", json={"email": "m2@example.com", "password": "shop-password-123",
                                            "role": "manager"}).status_code == 403
    assert manager.patch(url, json={"password": "reset by the manager"}).status_code == 200
    assert manager.delete(url).status_code == 204


def test_nobody_changes_their_own_role(shop):
    manager = shop.add_user("manager@example.com", "manager")
    assert manager.patch(f"/api/users/{manager.user['id']}", json={"role": "owner"}).status_code in (400, 403)
    assert manager.patch(f"/api/users/{manager.user['id']}", json={"role": "staff"}).status_code in (400, 403)
    assert manager.get("/api/auth/me").get_json()["user"]["role"] == "manager"


def test_staff_cannot_change_thresholds(shop):
    staff = shop.add_user("staff@example.com", "staff")
    product = shop.add_product("Milk", stock=10, category="Dairy")
    assert staff.patch(f"/api/products/{product['id']}", json={"low_stock_threshold": 0}).status_code == 403
    assert staff.patch(f"/api/categories/{product['category']['id']}",
                       json={"low_stock_threshold": 0}).status_code == 403
    assert staff.post("/api/products", json={"name": "Tea", "low_stock_threshold": 0}).status_code == 403
    assert shop.get(f"/api/products/{product['id']}").get_json()["low_stock_threshold"] is None
    # Other fields and a threshold sent back unchanged are fine.
    assert staff.patch(f"/api/products/{product['id']}", json={"name": "Whole milk",
                                                               "low_stock_threshold": None}).status_code == 200


def test_staff_cannot_archive_or_unarchive(shop):
    staff = shop.add_user("staff@example.com", "staff")
    product = shop.add_product("Milk", stock=10)
    assert staff.delete(f"/api/products/{product['id']}").status_code == 403
    assert staff.patch(f"/api/products/{product['id']}", json={"active": False}).status_code == 403
    assert shop.get(f"/api/products/{product['id']}").get_json()["active"] is True
    assert shop.delete(f"/api/products/{product['id']}").status_code == 200
    assert staff.patch(f"/api/products/{product['id']}", json={"active": True}).status_code == 403
    assert shop.get(f"/api/products/{product['id']}").get_json()["active"] is False


def test_staff_cannot_archive_from_the_page(shop):
    import re
    staff = shop.add_user("staff@example.com", "staff")
    product = shop.add_product("Milk", stock=10)
    html = staff.get(f"/retail/products/{product['id']}/edit").get_data(as_text=True)
    assert "Archive product" not in html
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    staff.http.post(f"/retail/products/{product['id']}/archive", data={"csrf_token": token})
    assert shop.get(f"/api/products/{product['id']}").get_json()["active"] is True


def test_staff_cannot_snooze_resolve_or_trigger_checks(shop):
    staff = shop.add_user("staff@example.com", "staff")
    product = shop.add_product("Milk", stock=1)
    alert = shop.get("/api/alerts").get_json()["items"][0]
    assert staff.post(f"/api/products/{product['id']}/snooze", json={"days": 3}).status_code == 403
    assert staff.delete(f"/api/products/{product['id']}/snooze").status_code == 403
    assert staff.post(f"/api/alerts/{alert['id']}/resolve").status_code == 403
    assert staff.post("/api/alerts/trigger-check").status_code == 403
    assert shop.get(f"/api/alerts/{alert['id']}").get_json()["status"] == "active"
    assert shop.post(f"/api/alerts/{alert['id']}/resolve").status_code == 200


def test_last_active_owner_cannot_be_deactivated_or_demoted(shop):
    manager_owner = shop.add_user("second@example.com", "owner")
    assert shop.delete(f"/api/users/{manager_owner.user['id']}").status_code == 204
    # The second owner is gone; the first cannot be deactivated by anyone now (self is refused anyway).
    assert active_owners(shop.client["id"]) == 1


def _at_once(*calls):
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(i, call):
        barrier.wait()
        results[i] = call()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


@pytest.mark.parametrize("how", ["deactivate", "demote"])
def test_two_owners_removing_each_other_at_once_leave_an_active_owner(make_shop, how):
    for round_ in range(6):
        first = make_shop(f"Twin Shop {how} {round_}")
        second = first.add_user(f"second-{how}-{round_}@example.com", "owner")

        def remove(actor, target):
            if how == "deactivate":
                return lambda: actor.delete(f"/api/users/{target.user['id']}").status_code
            return lambda: actor.patch(f"/api/users/{target.user['id']}", json={"role": "staff"}).status_code

        statuses = _at_once(remove(first, second), remove(second, first))
        assert active_owners(first.client["id"]) >= 1, (round_, statuses)
        assert 500 not in statuses and sorted(statuses)[0] in (200, 204), statuses
