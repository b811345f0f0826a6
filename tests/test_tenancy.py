"""Another shop's ids answer 404 on every route, never 403 and never data, and change nothing."""
import pytest

from modules.extensions import db
from modules.alerts.models import StockAlert
from modules.notifications.models import Notification
from modules.retail.models import Product

# How to fill each id in a URL with a row of the *other* shop.
ID_ARGS = ("product_id", "notification_id", "alert_id", "user_id", "location_id")
BODIES = {
    "/api/products/<int:product_id>/stock": {"delta": -1, "reason": "sale"},
    "/api/products/<int:product_id>": {"name": "Hijacked"},
    "/api/users/<int:user_id>": {"role": "staff"},
    "/api/locations/<int:location_id>": {"name": "Hijacked", "active": False},
    "/api/products/<int:product_id>/locations/<int:location_id>": {"low_stock_threshold": 99},
}


def other_shop_rows(other_shop):
    """The other shop with a product that alerted: one row of each kind a URL can name."""
    product = other_shop.add_product("Secret Sauce", stock=1, category="Hidden")
    staff = other_shop.add_user("their-staff@example.com", "staff")
    notification = db.session.execute(
        db.select(Notification).where(Notification.user_id == other_shop.user["id"])).scalar_one()
    alert = db.session.execute(db.select(StockAlert).where(StockAlert.product_id == product["id"])).scalar_one()
    [place] = other_shop.get("/api/locations").get_json()["items"]
    return {"product_id": product["id"], "notification_id": notification.id, "alert_id": alert.id,
            "user_id": staff.user["id"], "location_id": place["id"]}


def snapshot(ids):
    db.session.expire_all()
    product = db.session.get(Product, ids["product_id"])
    notification = db.session.get(Notification, ids["notification_id"])
    alert = db.session.get(StockAlert, ids["alert_id"])
    from modules.auth.models import User

    from modules.retail.models import Location, ProductStock

    user = db.session.get(User, ids["user_id"])
    location = db.session.get(Location, ids["location_id"])
    thresholds = db.session.execute(db.select(ProductStock.low_stock_threshold, ProductStock.stock)).all()
    return (product.name, product.stock, product.active, notification.is_read, alert.resolved_at,
            user.role, user.active, location.name, location.active, sorted(map(tuple, thresholds)))


def id_routes(app):
    for rule in app.url_map.iter_rules():
        names = [a for a in rule.arguments if a in ID_ARGS]
        if names:
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                yield rule, method, names


def test_every_id_route_is_covered(app):
    for rule, _, _ in id_routes(app):
        unknown = set(rule.arguments) - set(ID_ARGS)
        assert not unknown, f"{rule.rule} has an id this test does not know how to fill: {unknown}"


def test_other_shops_ids_answer_404_everywhere_and_change_nothing(app, shop, other_shop):
    ids = other_shop_rows(other_shop)
    before = snapshot(ids)
    checked = 0
    for rule, method, names in id_routes(app):
        url = rule.rule
        for name in names:
            url = url.replace(f"<int:{name}>", str(ids[name]))
        kwargs = {}
        if method in ("POST", "PATCH", "PUT", "DELETE") and rule.rule.startswith("/api/"):
            kwargs["json"] = BODIES.get(rule.rule, {})
        elif method == "POST":
            token = shop.get("/api/auth/csrf").get_json()["csrf_token"]
            kwargs["data"] = {"csrf_token": token, "name": "Hijacked", "delta": "-1", "reason": "sale",
                              "action": "save"}
        response = getattr(shop, method.lower())(url, **kwargs) if method != "GET" else shop.get(url)
        assert response.status_code == 404, f"{method} {url} answered {response.status_code}"
        assert b"Secret Sauce" not in response.data
        checked += 1
    assert checked >= 12
    assert snapshot(ids) == before


def test_lists_show_only_own_shop(shop, other_shop):
    other_shop_rows(other_shop)
    shop.add_product("Mine", stock=2)
    for url in ("/api/products", "/api/products?stock=low", "/api/categories", "/api/notifications",
                "/api/alerts?show_resolved=1", "/api/users", "/api/notifications/deliveries",
                "/retail/products", "/notifications", "/retail/categories", "/notifications/deliveries"):
        response = shop.get(url)
        assert response.status_code == 200, url
        assert b"Secret Sauce" not in response.data and b"Hidden" not in response.data, url
        assert b"their-staff" not in response.data, url
    stats = shop.get("/api/alerts/stats").get_json()
    assert stats["low_stock_products"] == 1 and stats["out_of_stock_products"] == 0


@pytest.mark.parametrize("path", ["/api/products/999999", "/api/alerts/999999"])
def test_missing_ids_answer_404_like_other_shops(shop, path):
    response = shop.get(path)
    assert response.status_code == 404
    assert response.get_json() == {"error": "Not found.", "details": {}}


def test_a_404_for_another_shops_product_leaves_its_row_untouched(app, shop, other_shop):
    from sqlalchemy import select

    from modules.extensions import db
    from modules.retail.models import Product

    theirs = other_shop.add_product("Rival tea", stock=3)
    before = db.session.execute(select(Product.updated_at).where(Product.id == theirs["id"])).scalar_one()
    db.session.rollback()
    assert shop.post(f"/api/products/{theirs['id']}/stock", json={"delta": -1, "reason": "sale"}).status_code == 404
    after = db.session.execute(select(Product.updated_at).where(Product.id == theirs["id"])).scalar_one()
    db.session.rollback()
    assert after == before


def test_a_person_limited_to_one_location_gets_404_for_every_route_of_another(app, shop):
    """The walk above, inside one shop: a manager limited to Uptown and Downtown's id."""
    [downtown] = shop.get("/api/locations").get_json()["items"]
    uptown = shop.post("/api/locations", json={"name": "Uptown"}).get_json()
    product = shop.add_product("Milk", stock=9)
    manager = shop.add_user("uptown@example.com", "manager")
    assert shop.patch(f"/api/users/{manager.user['id']}", json={"location_ids": [uptown["id"]]}).status_code == 200
    checked = 0
    for rule, method, names in id_routes(app):
        if "location_id" not in names:
            continue
        url = rule.rule.replace("<int:location_id>", str(downtown["id"])).replace("<int:product_id>", str(product["id"]))
        kwargs = {"json": BODIES.get(rule.rule, {})} if method in ("POST", "PATCH", "PUT", "DELETE") else {}
        response = getattr(manager, method.lower())(url, **kwargs) if method != "GET" else manager.get(url)
        assert response.status_code == 404, f"{method} {url} answered {response.status_code}"
        checked += 1
    assert checked >= 3
    for url in (f"/api/products?location_id={downtown['id']}", f"/api/products/export.csv?location_id={downtown['id']}"):
        assert manager.get(url).status_code == 404, url
    body = {"product_id": product["id"], "from_location_id": downtown["id"], "to_location_id": uptown["id"],
            "quantity": 1}
    assert manager.post("/api/transfers", json=body).status_code == 404
    assert shop.get(f"/api/products/{product['id']}").get_json()["stock"] == 9
