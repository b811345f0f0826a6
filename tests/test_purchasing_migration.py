"""Migration 0012 on a database with products and settings: products get pack size 1 and no
supplier or prices, shops get USD; the downgrade removes it all and keeps the products."""
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from modules.extensions import db


def test_purchasing_migration_up_and_down_keeps_the_data(app, shop):
    product = shop.add_product("Milk", stock=4)
    shop.get("/api/notifications/settings")
    db.session.remove()
    downgrade(revision="0011")
    columns = {c["name"] for c in inspect(db.engine).get_columns("products")}
    assert "pack_size" not in columns and "suppliers" not in inspect(db.engine).get_table_names()
    upgrade()
    row = db.session.execute(text("SELECT stock, pack_size, supplier_id, cost_price FROM products WHERE id = :id"),
                             {"id": product["id"]}).one()
    assert tuple(row) == (4, 1, None, None)
    assert db.session.execute(text("SELECT currency FROM notification_settings")).scalars().all() == ["USD"]
    assert shop.get(f"/api/products/{product['id']}").get_json()["pack_size"] == 1
