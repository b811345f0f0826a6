"""POST /api/stock/batch: a till's sales in one request, all or nothing, alerts raised once for
the whole batch, and safe to retry with the same Idempotency-Key."""
import threading

import pytest
from sqlalchemy import func, select

from modules.alerts.models import StockAlertLog
from modules.extensions import db
from modules.retail.models import StockMovement


def stock_of(shop, product):
    return shop.get(f"/api/products/{product['id']}").get_json()["stock"]


def movements():
    count = db.session.execute(select(func.count()).select_from(StockMovement)).scalar_one()
    db.session.rollback()
    return count


def alert_rows():
    count = db.session.execute(select(func.count()).select_from(StockAlertLog)).scalar_one()
    db.session.rollback()
    return count


def batch(shop, changes, key=None):
    headers = {"Idempotency-Key": key} if key else {}
    return shop.post("/api/stock/batch", json={"changes": changes}, headers=headers)


def test_a_batch_by_id_and_sku_applies_every_change_and_alerts_once(shop):
    milk = shop.add_product("Oat Milk", stock=10, sku="OAT-1")
    rye = shop.add_product("Rye Bread", stock=20)
    before = movements()
    answer = batch(shop, [{"sku": "OAT-1", "delta": -3, "reason": "sale"},
                          {"product_id": rye["id"], "quantity": 2, "reason": "count"},
                          {"product_id": milk["id"], "delta": -4, "reason": "sale"}])
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["applied"] == 3
    assert body["products"] == [{"id": milk["id"], "stock": 3}, {"id": rye["id"], "stock": 2}]
    assert sorted(a["message"] for a in body["alerts"]) == [
        "Low Stock Alert: Oat Milk - Only 3 remaining (Uncategorized)",
        "Low Stock Alert: Rye Bread - Only 2 remaining (Uncategorized)"]
    assert stock_of(shop, milk) == 3 and stock_of(shop, rye) == 2
    assert movements() == before + 3
    assert alert_rows() == 2
    assert shop.get("/api/notifications/unread-count").get_json()["count"] == 2


def test_one_bad_change_in_the_middle_applies_nothing_and_names_it(shop):
    milk = shop.add_product("Oat Milk", stock=10)
    before = movements()
    answer = batch(shop, [{"product_id": milk["id"], "delta": -1, "reason": "sale"},
                          {"product_id": milk["id"], "delta": -50, "reason": "sale"},
                          {"sku": "NOPE", "delta": -1, "reason": "sale"},
                          {"product_id": milk["id"], "delta": -1, "reason": "sale"}])
    assert answer.status_code == 400
    details = answer.get_json()["details"]
    assert set(details) == {"changes[1]", "changes[2]"}
    assert "below zero" in details["changes[1]"] and details["changes[2]"] == "No product with this SKU."
    assert stock_of(shop, milk) == 10 and movements() == before and alert_rows() == 0


@pytest.mark.parametrize("changes, field", [
    ([], "changes"),
    ("sale", "changes"),
    ([{"product_id": 1, "sku": "A", "delta": -1, "reason": "sale"}], "changes[0]"),
    ([{"product_id": 1, "delta": -1, "quantity": 3, "reason": "sale"}], "changes[0]"),
    ([{"product_id": 1, "delta": 0, "reason": "sale"}], "changes[0]"),
    ([{"product_id": 1, "delta": -1, "reason": "theft"}], "changes[0]"),
    ([{"product_id": 2**40, "delta": -1, "reason": "sale"}], "changes[0]"),
    ([{"product_id": 1, "delta": 10**12, "reason": "delivery"}], "changes[0]"),
    ([{"product_id": 1, "delta": True, "reason": "sale"}], "changes[0]"),
    ([{"product_id": 1, "delta": -1, "reason": "sale", "price": 3}], "changes[0]"),
    ([7], "changes[0]"),
])
def test_malformed_changes_are_a_400_naming_the_change(shop, changes, field):
    answer = shop.post("/api/stock/batch", json={"changes": changes})
    assert answer.status_code == 400 and field in answer.get_json()["details"]


def test_more_than_a_thousand_changes_are_refused(shop):
    product = shop.add_product("Oat Milk", stock=5000)
    change = {"product_id": product["id"], "delta": -1, "reason": "sale"}
    assert batch(shop, [change] * 1001).status_code == 400
    answer = batch(shop, [change] * 1000)
    assert answer.status_code == 200 and answer.get_json()["applied"] == 1000
    assert stock_of(shop, product) == 4000


def test_another_shops_products_are_not_found(shop, other_shop):
    theirs = other_shop.add_product("Their Milk", stock=10, sku="THEIRS")
    for change in ({"product_id": theirs["id"], "delta": -1, "reason": "sale"},
                   {"sku": "THEIRS", "delta": -1, "reason": "sale"}):
        answer = batch(shop, [change])
        assert answer.status_code == 400 and answer.get_json()["details"]["changes[0]"].startswith("No product")
    assert stock_of(other_shop, theirs) == 10


def test_the_same_key_and_body_replays_the_answer_and_applies_nothing(shop):
    milk = shop.add_product("Oat Milk", stock=10)
    changes = [{"product_id": milk["id"], "delta": -6, "reason": "sale"}]
    first = batch(shop, changes, key="till-7:0001")
    assert first.status_code == 200
    again = batch(shop, changes, key="till-7:0001")
    assert again.status_code == 200 and again.get_json() == first.get_json()
    assert stock_of(shop, milk) == 4 and alert_rows() == 1
    other = batch(shop, [{"product_id": milk["id"], "delta": -1, "reason": "sale"}], key="till-7:0001")
    assert other.status_code == 409 and stock_of(shop, milk) == 4


def test_keys_are_per_shop(shop, other_shop):
    mine, theirs = shop.add_product("Oat Milk", stock=10), other_shop.add_product("Oat Milk", stock=10)
    assert batch(shop, [{"product_id": mine["id"], "delta": -1, "reason": "sale"}], key="k1").status_code == 200
    assert batch(other_shop, [{"product_id": theirs["id"], "delta": -2, "reason": "sale"}],
                 key="k1").status_code == 200
    assert stock_of(other_shop, theirs) == 8


@pytest.mark.parametrize("key", ["", "x" * 256, "tab\there", "ünïcode"])
def test_a_bad_idempotency_key_is_a_400(shop, key):
    milk = shop.add_product("Oat Milk", stock=10)
    answer = shop.post("/api/stock/batch", json={"changes": [{"product_id": milk["id"], "delta": -1, "reason": "sale"}]},
                       headers={"Idempotency-Key": key})
    assert answer.status_code == 400 and stock_of(shop, milk) == 10


def test_a_failed_batch_does_not_use_up_its_key(shop):
    milk = shop.add_product("Oat Milk", stock=10)
    assert batch(shop, [{"product_id": milk["id"], "delta": -50, "reason": "sale"}], key="k").status_code == 400
    assert batch(shop, [{"product_id": milk["id"], "delta": -5, "reason": "sale"}], key="k").status_code == 200
    assert stock_of(shop, milk) == 5


def test_two_requests_with_one_key_at_once_apply_once(app, shop):
    milk = shop.add_product("Oat Milk", stock=100)
    changes = [{"product_id": milk["id"], "delta": -60, "reason": "sale"}]
    answers, start = [], threading.Barrier(2)

    def send():
        with app.app_context():
            client = app.test_client()
            client.set_cookie("session", shop.http.get_cookie("session").value, domain="localhost")
            start.wait()
            response = client.post("/api/stock/batch", json={"changes": changes},
                                   headers={"Idempotency-Key": "race", "X-CSRFToken": shop.csrf})
            answers.append((response.status_code, response.get_json()))

    threads = [threading.Thread(target=send) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert [code for code, _ in answers] == [200, 200], answers
    assert answers[0][1] == answers[1][1]
    assert stock_of(shop, milk) == 40 and alert_rows() == 0
    assert movements() == 2  # the product's initial stock and the one sale
