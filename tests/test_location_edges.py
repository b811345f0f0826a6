"""Locations at their edges (API.md, "Locations" and "Reorder"): what a place carries survives a
CSV round-trip, an inactive place takes no delivery, and a person limited to some places sees,
changes and resolves only there."""
from io import BytesIO

import pytest

from tests.support.purchasing import add_supplier
from tests.support.shops import add_location, default_location


def import_csv(shop, text, location_id):
    return shop.post(f"/api/products/import?location_id={location_id}",
                     data={"file": (BytesIO(text.encode()), "products.csv")}, content_type="multipart/form-data")


def carried_at(shop, product):
    return {e["location"]["name"]: e["stock"] for e in shop.get(f"/api/products/{product['id']}").get_json()["locations"]}


def test_a_locations_csv_imported_back_changes_nothing_where_it_did_not_carry_the_product(shop):
    uptown = add_location(shop, "Uptown")
    milk = shop.add_product("Milk", stock=10, sku="MILK")  # carried at Main only
    exported = shop.get(f"/api/products/export.csv?location_id={uptown}").get_data(as_text=True)
    assert exported.splitlines()[1].startswith("Milk,MILK,,0,,")
    response = import_csv(shop, exported, uptown)
    assert response.status_code == 200, response.get_json()
    assert carried_at(shop, milk) == {"Main": 10}  # Uptown does not carry it, so it is not out there
    assert shop.get("/api/alerts").get_json()["items"] == []
    assert shop.get(f"/api/products/export.csv?location_id={uptown}").get_data(as_text=True) == exported
