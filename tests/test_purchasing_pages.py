"""The purchasing pages: the reorder list by supplier with its "Draft an order" button, an order's
page (edit, send, receive, cancel), suppliers, the product form's buying fields and the dashboard's
stock value. Owners and managers only."""
import re
from decimal import Decimal

from sqlalchemy import select

from modules.extensions import db
from modules.retail.models import Product
from tests.support.purchasing import add_supplier, selling_product


def page(shop, url, status=200):
    response = shop.get(url)
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    return response.get_data(as_text=True)


def form_post(shop, url, **data):
    return shop.http.post(url, data={"csrf_token": shop.csrf, **data})


def test_the_reorder_page_lists_by_supplier_and_drafts_an_order(shop):
    dairy = add_supplier(shop)
    bakery = add_supplier(shop, name="Bakery", email="bread@bakery.example", lead_time_days=2)
    selling_product(shop, "Milk", 45, 10, supplier_id=dairy["id"], pack_size=12)
    shop.add_product("Bread", stock=2, supplier_id=bakery["id"])
    html = page(shop, "/reorder")
    assert html.index("Bakery") < html.index("Dairy Co")
    assert re.search(r'data-product-id="\d+">.*?Milk.*?<td class="num suggested">96', html, re.DOTALL)
    assert html.count("Draft an order") == 2
    response = form_post(shop, "/reorder/draft", supplier_id=dairy["id"])
    assert response.status_code == 303
    order_url = response.headers["Location"]
    html = page(shop, order_url)
    assert "PO-1" in html and 'name="quantity_' in html and "Send to Dairy Co" in html


def test_the_reorder_page_says_out_of_stock_not_0_days_left(shop):
    dairy = add_supplier(shop)
    selling_product(shop, "Milk", 0, 10, supplier_id=dairy["id"])
    html = page(shop, "/reorder")
    assert re.search(r'Milk.*?<td class="num days-left">Out of stock</td>', html, re.DOTALL)


def test_an_orders_life_through_its_page(shop):
    supplier = add_supplier(shop)
    milk = shop.add_product("Milk", stock=10)
    order = shop.post("/api/purchase-orders", json={"supplier_id": supplier["id"],
                                                    "lines": [{"product_id": milk["id"], "quantity": 12}]}).get_json()
    base = f"/purchase-orders/{order['id']}"
    assert form_post(shop, f"{base}/lines", **{f"quantity_{milk['id']}": "24"}).status_code == 303
    assert shop.get(f"/api/purchase-orders/{order['id']}").get_json()["lines"][0]["quantity"] == 24
    assert form_post(shop, f"{base}/send").status_code == 303
    assert "Receive into stock" in page(shop, base)
    form_post(shop, f"{base}/receive", **{f"received_{milk['id']}": "10"})
    assert shop.get(f"/api/purchase-orders/{order['id']}").get_json()["status"] == "partially_received"
    form_post(shop, f"{base}/receive", **{f"received_{milk['id']}": "14"})
    assert shop.get(f"/api/products/{milk['id']}").get_json()["stock"] == 34
    assert "Received" in page(shop, "/purchase-orders?status=received")
    assert form_post(shop, f"{base}/cancel").status_code == 303
    assert form_post(shop, f"{base}/explode").status_code == 404
    assert shop.get(f"/api/purchase-orders/{order['id']}").get_json()["status"] == "received"  # refused


def test_staff_get_403_on_the_purchasing_pages_and_see_no_link(shop):
    staff = shop.add_user("staff@example.com", role="staff")
    for url in ("/reorder", "/purchase-orders", "/suppliers"):
        page(staff, url, 403)
    assert form_post(staff, "/suppliers", name="Sneaky", lead_time_days="1").status_code == 403
    assert 'href="/reorder"' not in page(staff, "/")
    assert 'href="/reorder"' in page(shop, "/")


def test_another_shops_order_page_is_a_404(shop, other_shop):
    theirs = add_supplier(other_shop)
    product = other_shop.add_product("Milk")
    order = other_shop.post("/api/purchase-orders", json={"supplier_id": theirs["id"], "lines": [
        {"product_id": product["id"], "quantity": 1}]}).get_json()
    page(shop, f"/purchase-orders/{order['id']}", 404)
    page(shop, f"/suppliers/{theirs['id']}", 404)
    assert form_post(shop, f"/suppliers/{theirs['id']}/delete").status_code == 404
    assert form_post(shop, f"/purchase-orders/{order['id']}/send").status_code == 404
    assert other_shop.get(f"/api/purchase-orders/{order['id']}").get_json()["status"] == "draft"


def test_suppliers_page_adds_and_deletes(shop):
    response = form_post(shop, "/suppliers", name="Dairy Co", email="orders@dairy.example", phone="",
                         lead_time_days="7", notes="")
    assert response.status_code == 303
    [supplier] = shop.get("/api/suppliers").get_json()["items"]
    assert (supplier["name"], supplier["lead_time_days"], supplier["phone"]) == ("Dairy Co", 7, None)
    assert form_post(shop, "/suppliers", name="", lead_time_days="400").status_code == 400
    assert 'value="orders@dairy.example"' in page(shop, f"/suppliers/{supplier['id']}")
    form_post(shop, f"/suppliers/{supplier['id']}", name="Dairy Co", email="orders@dairy.example", phone="",
              lead_time_days="3", notes="Mondays")
    assert shop.get(f"/api/suppliers/{supplier['id']}").get_json()["lead_time_days"] == 3
    assert form_post(shop, f"/suppliers/{supplier['id']}", name="Dairy Co", lead_time_days="x").status_code == 400
    form_post(shop, f"/suppliers/{supplier['id']}/delete")
    assert shop.get("/api/suppliers").get_json()["items"] == []


def test_the_product_form_saves_supplier_prices_and_pack(shop):
    supplier = add_supplier(shop)
    product = shop.add_product("Milk")
    response = form_post(shop, f"/retail/products/{product['id']}/edit", name="Milk", sku="", category="",
                         low_stock_threshold="", supplier_id=str(supplier["id"]), cost_price="0.85",
                         sell_price="1.20", reorder_quantity="", max_stock="60", pack_size="6")
    assert response.status_code == 303
    db.session.rollback()
    stored = db.session.execute(select(Product).where(Product.id == product["id"])).scalar_one()
    assert (stored.supplier_id, stored.cost_price, stored.max_stock, stored.pack_size) == (
        supplier["id"], Decimal("0.85"), 60, 6)
    html = page(shop, f"/retail/products/{product['id']}/edit")
    assert 'value="0.85"' in html and f'<option value="{supplier["id"]}" selected>Dairy Co' in html
    bad = form_post(shop, f"/retail/products/{product['id']}/edit", name="Milk", cost_price="1,5", pack_size="6")
    assert bad.status_code == 400


def test_the_dashboards_stock_value_is_the_sum_of_cost_times_stock(shop):
    shop.add_product("Milk", stock=12, cost_price="0.85", sell_price="1.20")
    shop.add_product("Cheese", stock=3, cost_price="4.10", sell_price="6.00")
    shop.add_product("Mystery", stock=9)
    html = page(shop, "/")
    expected = Decimal("0.85") * 12 + Decimal("4.10") * 3
    assert re.search(r'data-stock-value="cost">([\d.]+)<', html).group(1) == f"{expected:.2f}" == "22.50"
    assert "USD stock at cost (32.40 at retail; 1 without a cost)" in html
