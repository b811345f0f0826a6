"""The bell's API: per-user read state, unread count (ETag and 304, exact up to 1,000, the badge's
99+), paging, mark read."""
import re

from sqlalchemy import insert

from modules.extensions import db
from modules.notifications.models import Notification
from modules.timeutil import utcnow


def make_alerts(shop, n):
    return [shop.add_product(f"Item {i}", stock=1) for i in range(n)]


def test_list_is_newest_first_with_unread_count(shop):
    make_alerts(shop, 3)
    body = shop.get("/api/notifications").get_json()
    assert [n["message"] for n in body["items"]] == [
        f"Low Stock Alert: Item {i} - Only 1 remaining (Uncategorized)" for i in (2, 1, 0)]
    assert body["unread_count"] == 3
    assert body["items"][0]["created_at"].endswith("+00:00")


def test_paging_with_limit_and_before_id(shop):
    make_alerts(shop, 5)
    first = shop.get("/api/notifications?limit=2").get_json()["items"]
    rest = shop.get(f"/api/notifications?limit=10&before_id={first[-1]['id']}").get_json()["items"]
    assert len(first) == 2 and len(rest) == 3
    assert {n["id"] for n in first}.isdisjoint({n["id"] for n in rest})


def test_read_state_is_per_user(shop):
    staff = shop.add_user("staff@example.com", "staff")
    make_alerts(shop, 2)
    item = shop.get("/api/notifications").get_json()["items"][0]
    response = shop.post(f"/api/notifications/{item['id']}/read")
    assert response.status_code == 200 and response.get_json()["is_read"] is True
    assert shop.get("/api/notifications/unread-count").get_json() == {"count": 1}
    assert staff.get("/api/notifications/unread-count").get_json() == {"count": 2}
    assert [n["is_read"] for n in shop.get("/api/notifications?unread=1").get_json()["items"]] == [False]


def test_cannot_read_another_users_notification(shop):
    staff = shop.add_user("staff@example.com", "staff")
    make_alerts(shop, 1)
    owners = shop.get("/api/notifications").get_json()["items"][0]
    assert staff.post(f"/api/notifications/{owners['id']}/read").status_code == 404
    assert shop.get("/api/notifications/unread-count").get_json() == {"count": 1}


def test_read_all(shop):
    make_alerts(shop, 3)
    assert shop.post("/api/notifications/read-all").get_json() == {"updated": 3}
    assert shop.get("/api/notifications/unread-count").get_json() == {"count": 0}
    assert shop.post("/api/notifications/read-all", json={}).get_json() == {"updated": 0}


def test_bad_paging_is_400(shop):
    assert shop.get("/api/notifications?limit=0").status_code == 400
    assert shop.get("/api/notifications?limit=abc").status_code == 400


def test_page_header_shows_unread_badge_and_escapes_names(shop):
    shop.add_product("<script>alert(1)</script>", stock=0)
    html = shop.get("/notifications").get_data(as_text=True)
    badge = re.search(r'<span class="bell-badge" id="bell-badge"([^>]*)>([^<]*)<', html)
    assert badge.group(2) == "1" and "hidden" not in badge.group(1)
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_action_route_refuses_a_form_body(shop):
    make_alerts(shop, 1)
    item = shop.get("/api/notifications").get_json()["items"][0]
    response = shop.post(f"/api/notifications/{item['id']}/read", data={"a": "b"})
    assert response.status_code == 400
    assert shop.get("/api/notifications/unread-count").get_json() == {"count": 1}
    assert shop.post(f"/api/notifications/{item['id']}/read", data="{}").status_code == 200


def unread_rows(shop, n, is_read=False):
    """`n` notifications of the shop's owner, written directly (the test is not about alerts)."""
    now = utcnow()
    db.session.execute(insert(Notification), [
        {"client_id": shop.client["id"], "user_id": shop.user["id"], "type": "alert", "kind": "low", "level": "low",
         "message": f"Low Stock Alert: Item {i}", "is_read": is_read, "created_at": now} for i in range(n)])
    db.session.commit()


def test_unread_count_answers_an_etag_and_304_while_it_holds(shop):
    make_alerts(shop, 2)
    first = shop.get("/api/notifications/unread-count")
    etag = first.headers["ETag"]
    assert first.status_code == 200 and first.get_json() == {"count": 2} and etag
    same = shop.get("/api/notifications/unread-count", headers={"If-None-Match": etag})
    assert same.status_code == 304 and same.data == b"" and same.headers["ETag"] == etag
    make_alerts(shop, 1)  # "Item 0" again: a new product of the same name
    changed = shop.get("/api/notifications/unread-count", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.get_json() == {"count": 3}
    assert changed.headers["ETag"] != etag
    stale = shop.get("/api/notifications/unread-count", headers={"If-None-Match": '"something else"'})
    assert stale.status_code == 200 and stale.get_json() == {"count": 3}


def test_unread_count_is_exact_up_to_1000_and_then_says_1000(shop):
    unread_rows(shop, 999)
    assert shop.get("/api/notifications/unread-count").get_json() == {"count": 999}
    unread_rows(shop, 1)
    assert shop.get("/api/notifications/unread-count").get_json() == {"count": 1000}
    unread_rows(shop, 500)
    unread_rows(shop, 700, is_read=True)
    assert shop.get("/api/notifications/unread-count").get_json() == {"count": 1000}
    body = shop.get("/api/notifications?limit=3").get_json()
    assert body["unread_count"] == 1000 and len(body["items"]) == 3
    assert shop.post("/api/notifications/read-all").get_json() == {"updated": 1500}
    assert shop.get("/api/notifications/unread-count").get_json() == {"count": 0}


def test_the_badge_shows_99_plus_past_99(shop):
    unread_rows(shop, 99)
    html = shop.get("/notifications").get_data(as_text=True)
    assert re.search(r'id="bell-badge"[^>]*>99<', html)
    unread_rows(shop, 1)
    html = shop.get("/notifications").get_data(as_text=True)
    assert re.search(r'id="bell-badge"[^>]*>99\+<', html)
