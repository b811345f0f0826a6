"""Suppliers, the product's purchasing fields, the shop's currency and the stock's value, through the
API: owners and managers only, another shop's ids 404, bad input 400 and nothing written."""
from decimal import Decimal

from sqlalchemy import func, select

from modules.auth.models import AuditEntry
from modules.extensions import db
from modules.purchasing.models import Supplier
from modules.retail.models import Product

SUPPLIER = {"name": "Dairy Co", "email": "orders@dairy.example", "phone": "+4930123456", "lead_time_days": 7,
            "notes": "Orders before noon"}


def add_supplier(shop, **fields):
    response = shop.post("/api/suppliers", json={**SUPPLIER, **fields})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def count(model):
    db.session.rollback()
    return db.session.execute(select(func.count()).select_from(model)).scalar_one()


def test_owner_creates_reads_updates_and_lists_a_supplier(shop):
    supplier = add_supplier(shop)
    assert supplier == {"id": supplier["id"], **SUPPLIER}
    assert shop.get(f"/api/suppliers/{supplier['id']}").get_json() == supplier
    changed = shop.patch(f"/api/suppliers/{supplier['id']}", json={"lead_time_days": 3}).get_json()
    assert changed["lead_time_days"] == 3
    assert shop.get("/api/suppliers").get_json()["items"] == [changed]
    actions = db.session.execute(select(AuditEntry.action).order_by(AuditEntry.id)).scalars().all()
    assert actions[-2:] == ["supplier.create", "supplier.update"]


def test_bad_supplier_input_is_a_400_and_writes_nothing(shop):
    for body in ({"name": ""}, {"name": "X", "lead_time_days": 366}, {"name": "X", "lead_time_days": -1},
                 {"name": "X", "email": "not-an-email"}, {"name": "X", "colour": "red"},
                 {"name": "X\x00"}):
        response = shop.post("/api/suppliers", json=body)
        assert response.status_code == 400, body
        assert response.get_json()["details"], body
    assert count(Supplier) == 0


def test_staff_cannot_see_or_make_suppliers_and_nothing_is_written(shop):
    staff = shop.add_user("staff@example.com", role="staff")
    assert staff.post("/api/suppliers", json=SUPPLIER).status_code == 403
    assert staff.get("/api/suppliers").status_code == 403
    assert staff.get("/api/reorder").status_code == 403
    assert staff.get("/api/reports/stock-value").status_code == 403
    assert count(Supplier) == 0


def test_a_manager_manages_suppliers(shop):
    manager = shop.add_user("manager@example.com", role="manager")
    assert manager.post("/api/suppliers", json=SUPPLIER).status_code == 201


def test_another_shops_supplier_is_a_404_everywhere(shop, other_shop):
    theirs = add_supplier(other_shop)
    sid = theirs["id"]
    assert shop.get(f"/api/suppliers/{sid}").status_code == 404
    assert shop.patch(f"/api/suppliers/{sid}", json={"name": "Mine"}).status_code == 404
    assert shop.delete(f"/api/suppliers/{sid}").status_code == 404
    assert shop.get(f"/api/reorder?supplier_id={sid}").status_code == 404
    assert shop.post("/api/products", json={"name": "Milk", "supplier_id": sid}).status_code == 404
    assert shop.post("/api/purchase-orders/from-reorder", json={"supplier_id": sid}).status_code == 404
    assert count(Product) == 0
    assert other_shop.get(f"/api/suppliers/{sid}").get_json()["name"] == "Dairy Co"


def test_a_product_carries_its_supplier_prices_and_order_sizes(shop):
    supplier = add_supplier(shop)
    product = shop.add_product("Milk", stock=5, supplier_id=supplier["id"], cost_price="0.8", sell_price="1.25",
                               reorder_quantity=24, max_stock=60, pack_size=12)
    assert product["supplier"] == {"id": supplier["id"], "name": "Dairy Co"}
    assert (product["cost_price"], product["sell_price"]) == ("0.80", "1.25")
    assert (product["reorder_quantity"], product["max_stock"], product["pack_size"]) == (24, 60, 12)
    plain = shop.add_product("Bread")
    assert (plain["supplier"], plain["cost_price"], plain["sell_price"], plain["pack_size"]) == (None, None, None, 1)
    changed = shop.patch(f"/api/products/{product['id']}", json={"supplier_id": None, "cost_price": None}).get_json()
    assert (changed["supplier"], changed["cost_price"]) == (None, None)
    db.session.rollback()
    assert db.session.get(Product, plain["id"]).pack_size == 1
    stored = db.session.execute(select(Product.sell_price).where(Product.id == product["id"])).scalar_one()
    assert stored == Decimal("1.25")


def test_bad_product_purchasing_fields_are_a_400_and_change_nothing(shop):
    product = shop.add_product("Milk", cost_price="1.00")
    for body in ({"cost_price": 1.2}, {"cost_price": "-1"}, {"cost_price": "1.234"}, {"sell_price": "abc"},
                 {"pack_size": 0}, {"pack_size": None}, {"reorder_quantity": 0}, {"max_stock": -1},
                 {"supplier_id": "x"}, {"name": "Other", "cost_price": 2.5}):
        response = shop.patch(f"/api/products/{product['id']}", json=body)
        assert response.status_code == 400, body
        assert set(response.get_json()["details"]) & set(body), body
    shown = shop.get(f"/api/products/{product['id']}").get_json()
    assert (shown["name"], shown["cost_price"], shown["pack_size"]) == ("Milk", "1.00", 1)


def test_deleting_a_supplier_leaves_its_products_without_one(shop):
    supplier = add_supplier(shop)
    product = shop.add_product("Milk", supplier_id=supplier["id"])
    assert shop.delete(f"/api/suppliers/{supplier['id']}").status_code == 204
    assert shop.get(f"/api/suppliers/{supplier['id']}").status_code == 404
    assert shop.get(f"/api/products/{product['id']}").get_json()["supplier"] is None


def test_the_shop_currency_is_usd_by_default_and_takes_an_iso_code(shop):
    assert shop.get("/api/notifications/settings").get_json()["currency"] == "USD"
    assert shop.post("/api/notifications/settings", json={"currency": "EUR"}).get_json()["currency"] == "EUR"
    for bad in ("EURO", "E1R", "", 978):
        response = shop.post("/api/notifications/settings", json={"currency": bad})
        assert response.status_code == 400, bad
    assert shop.get("/api/notifications/settings").get_json()["currency"] == "EUR"


def test_stock_value_sums_cost_and_price_times_stock_by_category(shop):
    shop.post("/api/notifications/settings", json={"currency": "EUR"})
    shop.add_product("Milk", stock=10, category="Dairy", cost_price="0.80", sell_price="1.10")
    shop.add_product("Cheese", stock=3, category="Dairy", cost_price="4.35", sell_price="6.00")
    shop.add_product("Nails", stock=7, cost_price="0.10", sell_price="0.15")
    shop.add_product("Mystery", stock=4, sell_price="2.00")
    archived = shop.add_product("Old", stock=100, cost_price="9.99")
    shop.delete(f"/api/products/{archived['id']}")
    value = shop.get("/api/reports/stock-value?location_id=1").get_json()
    assert value == {
        "currency": "EUR", "cost": "21.75", "retail": "38.05", "products_without_cost": 1,
        "by_category": [{"category": "Dairy", "cost": "21.05", "retail": "29.00"},
                        {"category": "Uncategorized", "cost": "0.70", "retail": "9.05"}],
    }
    assert shop.get("/api/reports/stock-value?location_id=0").status_code == 400


def test_a_supplier_with_orders_cannot_be_deleted(shop):
    supplier = add_supplier(shop)
    product = shop.add_product("Milk")
    shop.post("/api/purchase-orders", json={"supplier_id": supplier["id"],
                                            "lines": [{"product_id": product["id"], "quantity": 1}]})
    response = shop.delete(f"/api/suppliers/{supplier['id']}")
    assert response.status_code == 409
    assert shop.get(f"/api/suppliers/{supplier['id']}").status_code == 200


def test_the_demo_shop_has_suppliers_prices_and_something_to_reorder(app):
    from modules.seed import seed_demo

    seed_demo(password="demo-password-123")
    db.session.rollback()
    assert count(Supplier) == 3
    stored = db.session.execute(select(Product.name, Product.cost_price, Product.pack_size, Product.supplier_id)
                                .where(Product.sku == "DAI-001")).one()
    assert (stored.cost_price, stored.pack_size) == (Decimal("0.65"), 12) and stored.supplier_id is not None
    from modules.purchasing.service import reorder_items, stock_value

    client_id = db.session.execute(select(Product.client_id).limit(1)).scalar_one()
    assert "Whole Milk 1L" in [i["product"].name for i in reorder_items(client_id)]
    assert Decimal(stock_value(client_id)["cost"]) > 0
