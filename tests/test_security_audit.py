"""The audit log: users, roles, passwords (the fact only), thresholds, snoozes and archiving are
written with the change itself; GET /api/audit and /settings/audit are for owners, paged."""

from modules.auth.models import AuditEntry
from modules.extensions import db


def audit(owner, **query):
    response = owner.get("/api/audit", query_string=query)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]


def test_user_changes_are_audited_and_passwords_only_as_a_fact(shop):
    staff = shop.add_user("staff@example.com", "staff")
    sid = staff.user["id"]
    shop.patch(f"/api/users/{sid}", json={"role": "manager"})
    shop.patch(f"/api/users/{sid}", json={"password": "a secret reset pass"})
    shop.delete(f"/api/users/{sid}")
    shop.post("/api/auth/password", json={"current_password": shop.password, "new_password": "my own new pass"})
    items = audit(shop)
    assert [i["action"] for i in items] == ["user.password_change", "user.deactivate", "user.password_reset",
                                            "user.update", "user.create"]
    assert items[3]["changes"] == {"role": ["staff", "manager"]}
    assert items[1]["changes"] == {"active": [True, False]}
    assert all(i["user"] == {"id": shop.user["id"], "email": shop.email} for i in items)
    assert items[0]["target"].startswith(f"user {shop.user['id']}")
    raw = shop.get("/api/audit").get_data(as_text=True)
    assert "a secret reset pass" not in raw and "my own new pass" not in raw and "pbkdf2" not in raw and "scrypt" not in raw


def test_thresholds_snoozes_and_archiving_are_audited(shop):
    product = shop.add_product("Milk", stock=10, category="Dairy")
    shop.patch(f"/api/products/{product['id']}", json={"low_stock_threshold": 3})
    shop.patch(f"/api/categories/{product['category']['id']}", json={"low_stock_threshold": 7})
    shop.post(f"/api/products/{product['id']}/snooze", json={"days": 2})
    shop.delete(f"/api/products/{product['id']}/snooze")
    shop.delete(f"/api/products/{product['id']}")
    items = audit(shop)
    assert [i["action"] for i in items] == ["product.archive", "product.unsnooze", "product.snooze",
                                            "category.update", "product.update"]
    assert items[4]["changes"] == {"low_stock_threshold": [None, 3]}
    assert items[3]["changes"] == {"low_stock_threshold": [None, 7]}
    assert items[2]["changes"]["snoozed_until"][0] is None and items[2]["changes"]["snoozed_until"][1]
    assert items[0]["changes"] == {"active": [True, False]}


def test_a_refused_change_writes_no_audit_entry(shop):
    staff = shop.add_user("staff@example.com", "staff")
    product = shop.add_product("Milk", stock=10)
    before = len(audit(shop))
    assert staff.patch(f"/api/products/{product['id']}", json={"low_stock_threshold": 0}).status_code == 403
    assert shop.patch(f"/api/products/{product['id']}", json={"low_stock_threshold": -1}).status_code == 400
    assert shop.post("/api/users", json={"email": shop.email, "password": "another long pass",
                                         "role": "staff"}).status_code == 409
    assert len(audit(shop)) == before


def test_audit_is_for_owners_only(shop):
    manager = shop.add_user("manager@example.com", "manager")
    staff = shop.add_user("staff@example.com", "staff")
    for user in (manager, staff):
        assert user.get("/api/audit").status_code == 403
        assert user.get("/settings/audit").status_code == 403
    assert shop.get("/settings/audit").status_code == 200


def test_audit_shows_only_the_shops_own_entries(shop, other_shop):
    other_shop.add_product("Rival tea", stock=5, low_stock_threshold=2)
    other_shop.add_user("rival-staff@example.com", "staff")
    shop.add_user("staff@example.com", "staff")
    assert [i["target"] for i in audit(shop)] == [f"user {shop.get('/api/users').get_json()['items'][1]['id']}: "
                                                  "staff@example.com"]


def test_audit_is_paged_newest_first(shop):
    for n in range(5):
        shop.add_user(f"staff{n}@example.com", "staff")
    first = audit(shop, limit=2)
    second = audit(shop, limit=2, before_id=first[-1]["id"])
    third = audit(shop, limit=2, before_id=second[-1]["id"])
    ids = [i["id"] for i in first + second + third]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 5
    assert shop.get("/api/audit?limit=0").status_code == 400
    assert shop.get("/api/audit?before_id=2147483648").status_code == 400


def test_audit_page_shows_entries_and_pages(shop):
    for n in range(3):
        shop.add_user(f"staff{n}@example.com", "staff")
    html = shop.get("/settings/audit").get_data(as_text=True)
    assert "staff2@example.com" in html and "user.create" in html
    assert db.session.execute(db.select(db.func.count()).select_from(AuditEntry)).scalar_one() == 3
