"""The reorder list and the `reorder` alert kind: what to order, how much and from whom, in time
for the supplier's lead time; an order sent counts as on order."""
from datetime import timedelta

from sqlalchemy import select

from modules.alerts.models import StockAlertLog
from modules.alerts.service import raise_alerts
from modules.extensions import db
from modules.timeutil import utcnow
from tests.support.purchasing import add_supplier, bell, main_location, reorder_list, selling_product

ORDER_NOW = "Order Now: Milk - about 4 days left, Dairy Co needs 7 days (Dairy)"


def test_the_reorder_list_suggests_the_contracts_quantity_rounded_to_the_pack(shop):
    supplier = add_supplier(shop)
    milk = selling_product(shop, "Milk", 45, 10, category="Dairy", supplier_id=supplier["id"], pack_size=12)
    [item] = reorder_list(shop)
    assert item["product"]["id"] == milk["id"]
    assert item["supplier"] == {"id": supplier["id"], "name": "Dairy Co"}
    assert (item["stock"], item["on_order"], item["reorder_point"], item["days_left"]) == (45, 0, 70, 4)
    assert item["suggested_quantity"] == 96  # 2 x 70 - 45 = 95, up to a multiple of 12
    assert item["location"] == {"id": main_location(shop)["id"], "name": "Main"}


def test_the_list_holds_low_products_without_supplier_and_leaves_out_the_ones_well_stocked(shop):
    supplier = add_supplier(shop, name="Bakery", lead_time_days=2)
    shop.add_product("Bread", stock=3)  # low: threshold 5, no supplier
    shop.add_product("Flour", stock=50, supplier_id=supplier["id"])  # no sales: point = threshold
    selling_product(shop, "Rolls", 30, 1, supplier_id=supplier["id"])  # 1 a day x 2 days < 30
    butter = selling_product(shop, "Butter", 4, 1, supplier_id=supplier["id"], reorder_quantity=10)
    archived = shop.add_product("Old", stock=0)
    shop.delete(f"/api/products/{archived['id']}")
    items = reorder_list(shop)
    assert [(i["product"]["name"], i["supplier"] and i["supplier"]["name"]) for i in items] == [
        ("Butter", "Bakery"), ("Bread", None)]
    assert items[0]["suggested_quantity"] == 10 and items[0]["product"]["id"] == butter["id"]
    assert items[1]["suggested_quantity"] == 7  # 2 x 5 - 3
    assert [i["product"]["name"] for i in reorder_list(shop, f"?supplier_id={supplier['id']}")] == ["Butter"]


def test_order_now_reaches_the_bell_once_that_day_and_no_forecast_beside_it(shop):
    shop.post("/api/notifications/settings", json={"forecast_days": 7})
    supplier = add_supplier(shop)
    selling_product(shop, "Milk", 45, 10, category="Dairy", supplier_id=supplier["id"], pack_size=12)
    assert bell(shop, "reorder") == [ORDER_NOW]
    assert shop.post("/api/alerts/trigger-check", json={}).status_code == 200
    assert bell(shop, "reorder") == [ORDER_NOW]
    assert bell(shop, "forecast") == []


def test_a_product_without_a_reorder_still_raises_its_forecast(shop):
    shop.post("/api/notifications/settings", json={"forecast_days": 7})
    selling_product(shop, "Milk", 45, 10, category="Dairy")
    assert bell(shop, "forecast") == ["Running Low: Milk - about 4 days left (Dairy)"]
    assert bell(shop, "reorder") == []


def test_no_order_now_without_lead_time_or_when_low_or_with_days_to_spare(shop):
    same_day = add_supplier(shop, name="Corner", lead_time_days=0)
    slow = add_supplier(shop, name="Slow", lead_time_days=7)
    selling_product(shop, "Eggs", 45, 10, supplier_id=same_day["id"])  # no lead time
    selling_product(shop, "Jam", 3, 1, supplier_id=slow["id"])  # low: low's own alert says it
    selling_product(shop, "Tea", 100, 1, supplier_id=slow["id"])  # 100 days left
    assert bell(shop, "reorder") == []
    assert [n for n in bell(shop) if "Jam" in n] == ["Low Stock Alert: Jam - Only 3 remaining (Uncategorized)"]


def test_staff_do_not_hear_order_now_by_default(shop):
    staff = shop.add_user("staff@example.com", role="staff")
    supplier = add_supplier(shop)
    selling_product(shop, "Milk", 45, 10, category="Dairy", supplier_id=supplier["id"])
    assert bell(shop, "reorder") == [ORDER_NOW]
    assert bell(staff, "reorder") == []


def _order(shop, supplier, product, quantity):
    order = shop.post("/api/purchase-orders", json={"supplier_id": supplier["id"],
                                                    "lines": [{"product_id": product["id"], "quantity": quantity}]})
    assert order.status_code == 201, order.get_json()
    return order.get_json()


def test_an_order_sent_counts_as_on_order_and_stops_order_now(shop):
    supplier = add_supplier(shop)
    milk = selling_product(shop, "Milk", 45, 10, category="Dairy", supplier_id=supplier["id"])
    cream = selling_product(shop, "Cream", 45, 10, category="Dairy", supplier_id=supplier["id"])
    short = _order(shop, supplier, cream, 20)  # 45 + 20 is still at or below 70: not covered
    covering = _order(shop, supplier, milk, 30)
    draft = reorder_list(shop)
    assert [(i["product"]["name"], i["on_order"]) for i in draft] == [("Cream", 0), ("Milk", 0)]  # drafts: not sent
    for order in (short, covering):
        assert shop.post(f"/api/purchase-orders/{order['id']}/send", json={}).status_code == 202
    [item] = reorder_list(shop)
    assert (item["product"]["name"], item["on_order"], item["suggested_quantity"]) == ("Cream", 20, 75)
    tomorrow = utcnow() + timedelta(days=1)
    new = raise_alerts(shop.client["id"], now=tomorrow)
    db.session.commit()
    assert [a.product_id for a in new if a.kind == "reorder"] == [cream["id"]]
    order_2 = shop.post("/api/purchase-orders/from-reorder", json={"supplier_id": supplier["id"]}).get_json()
    shop.post(f"/api/purchase-orders/{order_2['id']}/send", json={})
    assert reorder_list(shop) == []
    logged = db.session.execute(select(StockAlertLog.kind, StockAlertLog.product_id)
                                .where(StockAlertLog.kind == "reorder")).all()
    assert len(logged) == 3  # Milk and Cream today, Cream tomorrow


def test_one_day_left_and_one_day_to_deliver_say_day(shop):
    supplier = add_supplier(shop, name="Fast Co", lead_time_days=1)
    selling_product(shop, "Milk", 10, 10, supplier_id=supplier["id"])
    assert bell(shop, "reorder") == ["Order Now: Milk - about 1 day left, Fast Co needs 1 day (Uncategorized)"]


def test_the_monitor_raises_order_now_in_every_shop_for_its_own_supplier(shop, other_shop):
    for owner in (shop, other_shop):
        supplier = add_supplier(owner, name=f"{owner.client['name']} Supplier")
        selling_product(owner, "Milk", 45, 10, category="Dairy", supplier_id=supplier["id"])
    new = raise_alerts(now=utcnow() + timedelta(days=1))
    db.session.commit()
    assert sorted(a.client_id for a in new if a.kind == "reorder") == sorted(
        [shop.client["id"], other_shop.client["id"]])
    assert bell(other_shop, "reorder")[0] == (
        "Order Now: Milk - about 4 days left, Rival Shop Supplier needs 7 days (Dairy)")
