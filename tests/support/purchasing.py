"""Steps a shop takes to buy stock, shared by the purchasing tests: a supplier, a product that sells
at a known rate (one sale today of `daily_rate` x the 28-day window), and the bell's messages."""

SUPPLIER = {"name": "Dairy Co", "email": "orders@dairy.example", "phone": "+4930123456", "lead_time_days": 7,
            "notes": "Orders before noon"}
WINDOW = 28


def add_supplier(shop, **fields):
    response = shop.post("/api/suppliers", json={**SUPPLIER, **fields})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def selling_product(shop, name, stock_after, daily_rate, **fields):
    """A product left with `stock_after` after selling `daily_rate` a day over the window."""
    sold = daily_rate * WINDOW
    product = shop.add_product(name, stock=stock_after + sold, **fields)
    response = shop.post(f"/api/products/{product['id']}/stock", json={"delta": -sold, "reason": "sale"})
    assert response.status_code == 200, response.get_json()
    return response.get_json()["product"]


def bell(shop, kind=None):
    items = shop.get("/api/notifications?limit=100").get_json()["items"]
    return [n["message"] for n in items if kind is None or n["kind"] == kind]


def reorder_list(shop, query=""):
    response = shop.get("/api/reorder" + query)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]


def main_location(shop):
    """The shop's default location as the API shows a place: {id, name}."""
    [main] = [loc for loc in shop.get("/api/locations").get_json()["items"] if loc["is_default"]]
    return {"id": main["id"], "name": main["name"]}
