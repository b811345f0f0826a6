"""Purchase orders through their life: a draft from the reorder list or by hand, edited while a
draft, sent to the supplier through the outbox (a real SMTP server), received in parts with the
order's number on the movements, cancelled; numbers per shop; 404 and 403 where they belong."""
import csv
import io
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from modules.auth.models import AuditEntry
from modules.delivery.digest import enqueue_due_digests
from modules.extensions import db
from modules.purchasing.models import PurchaseOrder
from modules.timeutil import utcnow
from tests.support.deliveries import deliveries, delivery_config, dispatcher, later
from tests.support.purchasing import add_supplier, reorder_list, selling_product


@pytest.fixture
def app_config(smtp_server, twilio):
    return delivery_config(smtp_server, twilio)


def test_a_draft_from_the_list_sent_reaches_the_supplier_and_received_in_two_parts_closes(app, shop, smtp_server):
    supplier = add_supplier(shop)
    milk = selling_product(shop, "Milk", 45, 10, category="Dairy", supplier_id=supplier["id"], pack_size=12,
                           sku="MILK-1", cost_price="0.80")
    response = shop.post("/api/purchase-orders/from-reorder", json={"supplier_id": supplier["id"]})
    assert response.status_code == 201, response.get_json()
    order = response.get_json()
    assert (order["number"], order["status"], order["supplier"]["name"], order["location"]["name"]) == (
        "PO-1", "draft", "Dairy Co", "Main")  # received at the shop's default location
    assert [(line["product"]["id"], line["quantity"], line["received"], line["unit_cost"])
            for line in order["lines"]] == [(milk["id"], 96, 0, "0.80")]
    assert order["total_cost"] == "76.80"

    assert shop.post(f"/api/purchase-orders/{order['id']}/send", json={}).status_code == 202
    assert dispatcher(app).run_once()["sent"] == 1
    [mail] = [m for m in smtp_server.received if "orders@dairy.example" in m.rcpt_tos]
    assert mail.message["Reply-To"] == shop.email
    assert "PO-1" in mail.subject
    html = mail.message.get_body(preferencelist=("html",)).get_content()
    assert "<td>Milk</td>" in html and ">96<" in html
    [attachment] = list(mail.message.iter_attachments())
    assert attachment.get_filename() == "PO-1.csv"
    rows = list(csv.reader(io.StringIO(attachment.get_content())))
    assert rows == [["product", "sku", "quantity", "unit_cost", "line_cost", "currency"],
                    ["Milk", "MILK-1", "96", "0.80", "76.80", "USD"]]
    assert [d["status"] for d in deliveries(shop)] == ["sent"]
    assert reorder_list(shop) == []

    url = f"/api/purchase-orders/{order['id']}/receive"
    first = shop.post(url, json={"lines": [{"product_id": milk["id"], "quantity": 50}]})
    assert first.status_code == 200 and first.get_json()["status"] == "partially_received"
    second = shop.post(url, json={"lines": [{"product_id": milk["id"], "quantity": 46}]}).get_json()
    assert second["status"] == "received" and second["lines"][0]["received"] == 96
    assert shop.get(f"/api/products/{milk['id']}").get_json()["stock"] == 45 + 96
    moves = shop.get(f"/api/products/{milk['id']}/movements").get_json()["items"]
    assert [(m["delta"], m["reason"], m["note"]) for m in moves[:2]] == [(46, "delivery", "PO-1"),
                                                                         (50, "delivery", "PO-1")]
    assert shop.post(url, json={"lines": [{"product_id": milk["id"], "quantity": 1}]}).status_code == 409
    actions = db.session.execute(select(AuditEntry.action).where(AuditEntry.action.like("purchase_order.%"))
                                 .order_by(AuditEntry.id)).scalars().all()
    assert actions == ["purchase_order.create", "purchase_order.send", "purchase_order.receive",
                       "purchase_order.receive"]


def test_a_failed_send_is_retried_and_shown_like_any_delivery(app, shop, smtp_server):
    supplier = add_supplier(shop, email="refuse@dairy.example")
    product = shop.add_product("Milk")
    smtp_server.refuse["refuse@dairy.example"] = "451 try again later"
    order = shop.post("/api/purchase-orders", json={"supplier_id": supplier["id"],
                                                    "lines": [{"product_id": product["id"], "quantity": 5}]}).get_json()
    shop.post(f"/api/purchase-orders/{order['id']}/send", json={})
    dispatcher(app).run_once()
    [row] = deliveries(shop)
    assert (row["status"], row["recipient"]) == ("failed", "refuse@dairy.example") and "451" in row["last_error"]
    shown = shop.get("/notifications/deliveries").get_data(as_text=True)
    assert "refuse@dairy.example" in shown and "Purchase order PO-1 from Corner Shop" in shown
    del smtp_server.refuse["refuse@dairy.example"]
    assert dispatcher(app).run_once(now=later(3600))["sent"] == 1
    assert [d["status"] for d in deliveries(shop)] == ["sent"]


def test_a_draft_is_edited_and_only_a_draft(shop):
    supplier = add_supplier(shop)
    milk, eggs = shop.add_product("Milk", cost_price="1.00"), shop.add_product("Eggs")
    order = shop.post("/api/purchase-orders", json={"supplier_id": supplier["id"],
                                                    "lines": [{"product_id": milk["id"], "quantity": 5}]}).get_json()
    url = f"/api/purchase-orders/{order['id']}"
    edited = shop.patch(url, json={"lines": [{"product_id": milk["id"], "quantity": 7, "unit_cost": "0.90"},
                                             {"product_id": eggs["id"], "quantity": 12}]}).get_json()
    assert [(line["quantity"], line["unit_cost"]) for line in edited["lines"]] == [(7, "0.90"), (12, None)]
    assert edited["total_cost"] == "6.30"
    assert shop.patch(url, json={"lines": []}).status_code == 400
    assert shop.patch(url, json={"lines": [{"product_id": milk["id"], "quantity": 0}]}).status_code == 400
    assert shop.patch(url, json={"lines": [{"product_id": milk["id"], "quantity": 1, "unit_cost": 0.5}]}
                      ).status_code == 400
    assert len(shop.get(url).get_json()["lines"]) == 2
    assert shop.post(f"{url}/receive", json={"lines": [{"product_id": milk["id"], "quantity": 1}]}).status_code == 409
    shop.post(f"{url}/send", json={})
    assert shop.patch(url, json={"lines": [{"product_id": milk["id"], "quantity": 1}]}).status_code == 409
    assert shop.post(f"{url}/send", json={}).status_code == 409
    assert shop.post(f"{url}/cancel", json={}).get_json()["status"] == "cancelled"
    assert shop.post(f"{url}/receive", json={"lines": [{"product_id": milk["id"], "quantity": 1}]}).status_code == 409
    assert shop.post(f"{url}/cancel", json={}).status_code == 409
    assert [o["number"] for o in shop.get("/api/purchase-orders?status=cancelled").get_json()["items"]] == ["PO-1"]
    assert shop.get("/api/purchase-orders?status=draft").get_json()["items"] == []
    assert shop.get("/api/purchase-orders?status=lost").status_code == 400


def test_from_reorder_with_nothing_to_order_is_a_400(shop):
    supplier = add_supplier(shop)
    shop.add_product("Milk", stock=100, supplier_id=supplier["id"])
    response = shop.post("/api/purchase-orders/from-reorder", json={"supplier_id": supplier["id"]})
    assert response.status_code == 400 and "supplier_id" in response.get_json()["details"]
    assert db.session.execute(select(func.count()).select_from(PurchaseOrder)).scalar_one() == 0


def test_numbers_count_per_shop_from_one(shop, other_shop):
    for owner in (shop, other_shop, shop):
        supplier = add_supplier(owner)
        product = owner.add_product(f"Milk {supplier['id']}")
        owner.post("/api/purchase-orders", json={"supplier_id": supplier["id"],
                                                 "lines": [{"product_id": product["id"], "quantity": 1}]})
    assert [o["number"] for o in shop.get("/api/purchase-orders").get_json()["items"]] == ["PO-2", "PO-1"]
    assert [o["number"] for o in other_shop.get("/api/purchase-orders").get_json()["items"]] == ["PO-1"]


def test_orders_made_at_once_take_different_numbers(app, shop):
    supplier = add_supplier(shop)
    product = shop.add_product("Milk")
    body = {"supplier_id": supplier["id"], "lines": [{"product_id": product["id"], "quantity": 1}]}
    codes = []

    def make():
        with app.app_context():
            codes.append(shop.post("/api/purchase-orders", json=body).status_code)
            db.session.remove()

    threads = [threading.Thread(target=make) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert codes == [201] * 4
    numbers = sorted(o["number"] for o in shop.get("/api/purchase-orders").get_json()["items"])
    assert numbers == ["PO-1", "PO-2", "PO-3", "PO-4"]


def test_another_shops_order_is_a_404_and_staff_get_403_with_nothing_written(shop, other_shop):
    theirs = add_supplier(other_shop)
    their_product = other_shop.add_product("Their milk")
    order = other_shop.post("/api/purchase-orders", json={"supplier_id": theirs["id"], "lines": [
        {"product_id": their_product["id"], "quantity": 1}]}).get_json()
    url = f"/api/purchase-orders/{order['id']}"
    assert shop.get(url).status_code == 404
    assert shop.patch(url, json={"lines": [{"product_id": their_product["id"], "quantity": 2}]}).status_code == 404
    for action in ("send", "cancel"):
        assert shop.post(f"{url}/{action}", json={}).status_code == 404
    assert shop.post(f"{url}/receive", json={"lines": [{"product_id": their_product["id"], "quantity": 1}]}
                     ).status_code == 404
    mine = add_supplier(shop)
    assert shop.post("/api/purchase-orders", json={"supplier_id": mine["id"], "lines": [
        {"product_id": their_product["id"], "quantity": 1}]}).status_code == 404
    staff = shop.add_user("staff@example.com", role="staff")
    product = shop.add_product("Milk")
    assert staff.post("/api/purchase-orders", json={"supplier_id": mine["id"], "lines": [
        {"product_id": product["id"], "quantity": 1}]}).status_code == 403
    assert staff.get("/api/purchase-orders").status_code == 403
    db.session.rollback()
    assert db.session.execute(select(func.count()).select_from(PurchaseOrder)).scalar_one() == 1
    assert other_shop.get(url).get_json()["status"] == "draft"


def test_an_order_to_a_supplier_without_email_is_not_sent(shop):
    supplier = add_supplier(shop, email=None)
    product = shop.add_product("Milk")
    order = shop.post("/api/purchase-orders", json={"supplier_id": supplier["id"],
                                                    "lines": [{"product_id": product["id"], "quantity": 1}]}).get_json()
    response = shop.post(f"/api/purchase-orders/{order['id']}/send", json={})
    assert response.status_code == 409 and "email" in response.get_json()["error"]
    assert shop.get(f"/api/purchase-orders/{order['id']}").get_json()["status"] == "draft"
    assert deliveries(shop) == []


def test_order_now_reaches_the_shops_email_to_the_letter(app, shop, smtp_server):
    response = shop.post("/api/notifications/settings", json={"email_enabled": True,
                                                               "email_recipients": ["owner@cornershop.example"]})
    assert response.status_code == 200, response.get_json()
    supplier = add_supplier(shop)
    selling_product(shop, "Milk", 45, 10, category="Dairy", supplier_id=supplier["id"])
    dispatcher(app).run_once()
    mails = [m for m in smtp_server.received if "owner@cornershop.example" in m.rcpt_tos]
    text = "\n".join(m.part("text/plain") for m in mails)
    assert "Order Now: Milk - about 4 days left, Dairy Co needs 7 days (Dairy)" in text
    assert any(m.subject.startswith("Order now: Milk") for m in mails)


def test_order_now_names_each_products_own_supplier(app, shop, smtp_server):
    response = shop.post("/api/notifications/settings", json={"email_enabled": True,
                                                               "email_recipients": ["owner@cornershop.example"]})
    assert response.status_code == 200, response.get_json()
    dairy, bakery = add_supplier(shop), add_supplier(shop, name="Bake Co", lead_time_days=9)
    shop.add_product("Butter", supplier_id=dairy["id"])  # the shop's first product: Dairy Co's
    selling_product(shop, "Milk", 45, 10, category="Dairy", supplier_id=dairy["id"])
    selling_product(shop, "Flour", 45, 10, category="Baking", supplier_id=bakery["id"])
    dispatcher(app).run_once()
    text = "\n".join(m.part("text/plain") for m in smtp_server.received if "owner@cornershop.example" in m.rcpt_tos)
    assert "Order Now: Milk - about 4 days left, Dairy Co needs 7 days (Dairy)" in text
    assert "Order Now: Flour - about 4 days left, Bake Co needs 9 days (Baking)" in text


def test_order_now_in_the_digest_names_each_products_own_supplier(app, shop, smtp_server):
    response = shop.post("/api/notifications/settings", json={
        "email_enabled": True, "email_recipients": ["owner@cornershop.example"], "delivery_mode": "digest",
        "digest_time": "00:00"})
    assert response.status_code == 200, response.get_json()
    dairy, bakery = add_supplier(shop), add_supplier(shop, name="Bake Co", lead_time_days=9)
    shop.add_product("Butter", supplier_id=dairy["id"])  # the shop's first product: Dairy Co's
    selling_product(shop, "Milk", 45, 10, category="Dairy", supplier_id=dairy["id"])
    selling_product(shop, "Flour", 45, 10, category="Baking", supplier_id=bakery["id"])
    tomorrow = utcnow() + timedelta(days=1)
    assert enqueue_due_digests(tomorrow) == 1
    assert dispatcher(app).run_once(now=tomorrow)["sent"] == 1
    [mail] = [m for m in smtp_server.received if "owner@cornershop.example" in m.rcpt_tos]
    assert "Order Now: Milk - about 4 days left, Dairy Co needs 7 days (Dairy)" in mail.part("text/plain")
    assert "Order Now: Flour - about 4 days left, Bake Co needs 9 days (Baking)" in mail.part("text/plain")
