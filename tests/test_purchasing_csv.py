"""The products CSV's purchasing columns, at the end: supplier by name, prices as exact amounts,
reorder quantity, max stock and pack size; an export imports back as is; a supplier the shop does
not have refuses the file and writes nothing."""
from tests.support.purchasing import add_supplier


def export(shop):
    response = shop.get("/api/products/export.csv")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def upload(shop, text):
    from io import BytesIO

    return shop.post("/api/products/import", data={"file": (BytesIO(text.encode()), "products.csv")},
                     content_type="multipart/form-data")


def test_export_writes_the_purchasing_columns_and_they_import_back(shop, other_shop):
    supplier = add_supplier(shop)
    shop.add_product("Milk", stock=5, sku="M-1", supplier_id=supplier["id"], cost_price="0.8", sell_price="1.25",
                     reorder_quantity=24, max_stock=60, pack_size=12)
    text = export(shop)
    assert text.splitlines()[1] == "Milk,M-1,,5,,true,Dairy Co,0.80,1.25,24,60,12"
    add_supplier(other_shop, name="DAIRY CO")
    assert upload(other_shop, text).get_json() == {"created": 1, "updated": 0}
    [milk] = other_shop.get("/api/products").get_json()["items"]
    assert (milk["supplier"]["name"], milk["cost_price"], milk["sell_price"], milk["reorder_quantity"],
            milk["max_stock"], milk["pack_size"]) == ("DAIRY CO", "0.80", "1.25", 24, 60, 12)


def test_an_import_updates_only_the_columns_it_has(shop):
    supplier = add_supplier(shop)
    product = shop.add_product("Milk", sku="M-1", supplier_id=supplier["id"], cost_price="1.00", pack_size=6)
    response = upload(shop, "name,sku,sell_price\r\nMilk,M-1,2.50\r\n")
    assert response.get_json() == {"created": 0, "updated": 1}
    shown = shop.get(f"/api/products/{product['id']}").get_json()
    assert (shown["supplier"]["name"], shown["cost_price"], shown["sell_price"], shown["pack_size"]) == (
        "Dairy Co", "1.00", "2.50", 6)


def test_bad_purchasing_cells_or_an_unknown_supplier_refuse_the_file(shop):
    shop.add_product("Milk", sku="M-1", cost_price="1.00")
    for text, line in (("name,sku,cost_price\r\nMilk,M-1,1.5.0\r\n", "line 2"),
                       ("name,sku,pack_size\r\nMilk,M-1,0\r\n", "line 2"),
                       ("name,sku,supplier\r\nBread,B-1,\r\nMilk,M-1,Nobody Ltd\r\n", "line 3")):
        response = upload(shop, text)
        assert response.status_code == 400, text
        assert line in response.get_json()["details"], response.get_json()
    items = shop.get("/api/products").get_json()["items"]
    assert [(p["name"], p["cost_price"], p["pack_size"]) for p in items] == [("Milk", "1.00", 1)]
