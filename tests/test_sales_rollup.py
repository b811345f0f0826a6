"""The daily sales rollup (sales_daily): every sale adds its units to its product, place and
shop-local day in the same transaction, whichever way it came (a single change, a batch); a
correction, a transfer, a delivery or an import is not a sale; and the forecast reads the rollup,
not the movements."""
from datetime import datetime, timedelta

from sqlalchemy import select, text

from modules.extensions import db
from modules.retail.models import SalesDaily
from modules.retail.sales import record_sales
from modules.timeutil import local_date, utcnow

# Fourteen hours ahead of UTC: for most of a UTC day the shop's date is the next one.
KIRITIMATI = "Pacific/Kiritimati"


def rollup():
    rows = db.session.execute(select(SalesDaily.product_id, SalesDaily.location_id, SalesDaily.sale_date,
                                     SalesDaily.units).order_by(SalesDaily.id)).all()
    db.session.rollback()
    return [tuple(r) for r in rows]


def main_id(shop):
    [main] = [loc["id"] for loc in shop.get("/api/locations").get_json()["items"] if loc["is_default"]]
    return main


def sell(shop, product, **body):
    response = shop.post(f"/api/products/{product['id']}/stock", json={"reason": "sale", **body})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_sales_add_up_on_the_shops_local_day(make_shop):
    shop = make_shop("Island Shop", timezone=KIRITIMATI)
    milk = shop.add_product("Milk", stock=50)
    before = local_date(KIRITIMATI, utcnow())
    sell(shop, milk, delta=-3)
    sell(shop, milk, delta=-4)
    after = local_date(KIRITIMATI, utcnow())
    [(product_id, location_id, day, units)] = rollup()
    assert (product_id, location_id, units) == (milk["id"], main_id(shop), 7)
    assert day in {before, after}


def test_a_sale_is_dated_by_the_shops_clock_not_utcs(make_shop):
    shop = make_shop("Island Shop", timezone=KIRITIMATI)
    milk = shop.add_product("Milk", stock=50)
    main = main_id(shop)
    # 11:00 UTC on 1 November is 01:00 on 2 November in Kiritimati; 09:59 UTC is still the 1st there.
    record_sales(shop.client["id"], [(milk["id"], main, 2)], datetime(2026, 11, 1, 11, 0))
    record_sales(shop.client["id"], [(milk["id"], main, 3)], datetime(2026, 11, 1, 9, 59))
    record_sales(shop.client["id"], [(milk["id"], main, 4)], datetime(2026, 11, 1, 23, 0))
    db.session.commit()
    assert sorted((day.isoformat(), units) for _, _, day, units in rollup()) == [
        ("2026-11-01", 3), ("2026-11-02", 6)]


def test_a_batch_writes_each_places_sales_once_summed(shop):
    milk = shop.add_product("Milk", stock=50)
    tea = shop.add_product("Tea", stock=50)
    response = shop.post("/api/stock/batch", json={"changes": [
        {"product_id": milk["id"], "delta": -3, "reason": "sale"},
        {"product_id": tea["id"], "delta": -1, "reason": "sale"},
        {"product_id": milk["id"], "delta": -2, "reason": "sale"},
        {"product_id": tea["id"], "delta": 5, "reason": "delivery"}]})
    assert response.status_code == 200, response.get_json()
    main = main_id(shop)
    assert sorted((p, loc, units) for p, loc, _, units in rollup()) == sorted(
        [(milk["id"], main, 5), (tea["id"], main, 1)])


def test_what_is_not_a_sale_is_not_counted(shop):
    milk = shop.add_product("Milk", stock=50)
    sell(shop, milk, delta=2)  # a till's correction: recorded, never counted (the forecast never did)
    for reason in ("damage", "delivery", "count", "return"):
        assert shop.post(f"/api/products/{milk['id']}/stock", json={"reason": reason, "delta": -1}).status_code == 200
    uptown = shop.post("/api/locations", json={"name": "Uptown"}).get_json()
    moved = shop.post("/api/transfers", json={"product_id": milk["id"], "from_location_id": main_id(shop),
                                              "to_location_id": uptown["id"], "quantity": 5})
    assert moved.status_code == 201, moved.get_json()
    assert rollup() == []


def test_a_sale_at_a_place_counts_there(shop):
    uptown = shop.post("/api/locations", json={"name": "Uptown"}).get_json()
    milk = shop.add_product("Milk", stock=10)
    assert shop.post(f"/api/products/{milk['id']}/stock",
                     json={"reason": "delivery", "delta": 9, "location_id": uptown["id"]}).status_code == 200
    sell(shop, milk, delta=-4, location_id=uptown["id"])
    assert [(p, loc, units) for p, loc, _, units in rollup()] == [(milk["id"], uptown["id"], 4)]


def test_the_forecast_reads_the_rollup_not_the_movements(shop):
    shop.post("/api/notifications/settings", json={"forecast_days": 5})
    rice = shop.add_product("Rice", stock=100)
    sell(shop, rice, delta=-56)  # 2 a day over 28 days: 44 left = 22 days
    assert shop.get(f"/api/products/{rice['id']}").get_json()["days_left"] == 22
    assert 'data-tab-count="soon">0<' in shop.get("/retail/products").get_data(as_text=True)
    # The movements now say 440: days_left still follows what the sale wrote (the rollup, and the
    # window kept beside the stock: tests/test_sales_windows.py), not the movements.
    db.session.execute(text("UPDATE stock_movements SET delta = -440"))
    db.session.commit()
    assert shop.get(f"/api/products/{rice['id']}").get_json()["days_left"] == 22
    page = shop.get("/retail/products?stock=soon").get_data(as_text=True)
    assert 'data-tab-count="soon">0<' in page


def test_the_window_counts_whole_shop_local_days(make_shop):
    """A sale on the shop's first day of the window counts; one on the day before does not."""
    shop = make_shop("Island Shop", timezone=KIRITIMATI)
    shop.post("/api/notifications/settings", json={"forecast_days": 5, "forecast_window_days": 7})
    flour = shop.add_product("Flour", stock=70)
    today = local_date(KIRITIMATI, utcnow())
    main = main_id(shop)
    for day, units in ((today - timedelta(days=7), 500), (today - timedelta(days=6), 70)):
        db.session.add(SalesDaily(client_id=shop.client["id"], product_id=flour["id"], location_id=main,
                                  sale_date=day, units=units))
    db.session.commit()
    assert shop.get(f"/api/products/{flour['id']}").get_json()["days_left"] == 7  # 70 sold in 7 days: 10 a day
