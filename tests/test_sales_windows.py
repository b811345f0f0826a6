"""The forecast's window kept on the places and products (retail.windows), on SQLite and
PostgreSQL: day after day, with rolls that slide, recount or do not happen, the stored window
equals the rollup's; a roll changes nothing twice and stamps nothing; a sale of another day marks
the windows for a recount, a list rolls its shop's; migration 0016w fills today's part from the
rollup. What reads the windows: tests/test_sales_window_readers.py."""
import random
from datetime import datetime, timedelta

from flask_migrate import downgrade, upgrade
from sqlalchemy import delete, func, select, text, update

from modules import create_app
from modules.auth.models import NotificationSettings
from modules.extensions import db
from modules.retail import windows
from modules.retail.models import Product, ProductStock, SalesDaily, SalesWindow
from modules.retail.sales import record_sales
from modules.timeutil import local_date, utcnow
from tests.support.app import base_config
from tests.support.shops import add_location, default_location, record_past_sale

NEW_YORK = "America/New_York"


def rollup_by_place(client_id, today, window):
    rows = db.session.execute(
        select(SalesDaily.product_id, SalesDaily.location_id, func.sum(SalesDaily.units))
        .where(SalesDaily.client_id == client_id, SalesDaily.sale_date > today - timedelta(days=window),
               SalesDaily.sale_date <= today)
        .group_by(SalesDaily.product_id, SalesDaily.location_id)).all()
    return {(p, loc): n for p, loc, n in rows if n}


def stored_by_place(client_id, today):
    rows = db.session.execute(select(ProductStock.product_id, ProductStock.location_id,
                                     windows.units(ProductStock, today))
                              .where(ProductStock.client_id == client_id)).all()
    return {(p, loc): n for p, loc, n in rows if n}


def stored_by_product(client_id, today):
    rows = db.session.execute(select(Product.id, windows.units(Product, today))
                              .where(Product.client_id == client_id)).all()
    return {p: n for p, n in rows if n}


def by_product(places):
    out = {}
    for (p, _), n in places.items():
        out[p] = out.get(p, 0) + n
    return out


def test_the_stored_window_equals_the_rollups_day_after_day(make_shop, monkeypatch):
    """Sixty days of sales at three places of two products, in New York (across the DST change of
    1 November), rolled on most days (a slide), sometimes days apart (a recount), with the window
    changed twice: whenever the shop's windows are current, every place's and product's stored
    window equals the rollup's."""
    shop = make_shop("Corner Shop", timezone=NEW_YORK)
    assert shop.post("/api/notifications/settings", json={"forecast_window_days": 28}).status_code == 200
    places = [default_location(shop), add_location(shop, "Uptown"), add_location(shop, "Stock room")]
    products = [shop.add_product(name, stock=1000)["id"] for name in ("Milk", "Tea")]
    for product in products:
        for place in places[1:]:  # carried at every place (a threshold there carries it)
            assert shop.put(f"/api/products/{product}/locations/{place}",
                            json={"low_stock_threshold": 1}).status_code == 200
    client_id = shop.client["id"]
    now = datetime(2026, 10, 10, 15, 0)
    monkeypatch.setattr(windows, "utcnow", lambda: now)
    rng = random.Random(18)
    window, checked, slides, recounts = 28, 0, 0, 0
    for day in range(60):
        now = datetime(2026, 10, 10, 15, 0) + timedelta(days=day, hours=rng.choice([-14, -6, 0, 8]))
        if day in (25, 41):
            window = {25: 7, 41: 28}[day]
            db.session.execute(update(NotificationSettings).where(NotificationSettings.client_id == client_id)
                               .values(forecast_window_days=window))
        for _ in range(rng.randint(0, 4)):
            record_sales(client_id, [(rng.choice(products), rng.choice(places), rng.randint(1, 9))], now)
        today = local_date(NEW_YORK, now)
        was = db.session.execute(select(SalesWindow.window_day, SalesWindow.window_days)
                                 .where(SalesWindow.client_id == client_id)).first()
        was = tuple(was) if was is not None else None
        if rng.random() < 0.8:
            assert windows.roll(now, client_id) == (0 if was == (today, window) else 1)
            if was == (today - timedelta(days=1), window):
                slides += 1
            elif was != (today, window):
                recounts += 1
        db.session.commit()
        if windows.is_current(client_id, today, window):
            expected = rollup_by_place(client_id, today, window)
            assert stored_by_place(client_id, today) == expected, (day, today)
            assert stored_by_product(client_id, today) == by_product(expected), (day, today)
            checked += 1
        # A sale after the roll on the same day counts at once.
        record_sales(client_id, [(products[0], places[1], 2)], now)
        db.session.commit()
        if windows.is_current(client_id, today, window):
            assert stored_by_place(client_id, today) == rollup_by_place(client_id, today, window)
    assert checked >= 40 and slides >= 25 and recounts >= 5, (checked, slides, recounts)


def test_a_roll_twice_on_one_day_changes_nothing_and_stamps_nothing(make_shop):
    shop = make_shop("Corner Shop")
    milk = shop.add_product("Milk", stock=100)
    client_id = shop.client["id"]
    record_past_sale(client_id, milk["id"], 5, utcnow() - timedelta(days=2))
    db.session.commit()
    stamps = sorted(db.session.execute(select(Product.updated_at)).scalars()) + sorted(
        db.session.execute(select(ProductStock.updated_at)).scalars())
    assert windows.roll(client_id=client_id) == 1
    db.session.commit()
    assert windows.roll(client_id=client_id) == 0
    today = local_date("UTC", utcnow())
    assert stored_by_product(client_id, today) == {milk["id"]: 5}
    # A roll is upkeep, not a change of the product: its updated_at stays.
    assert sorted(db.session.execute(select(Product.updated_at)).scalars()) + sorted(
        db.session.execute(select(ProductStock.updated_at)).scalars()) == stamps


def test_a_sale_of_an_earlier_day_marks_the_windows_for_a_recount(make_shop):
    shop = make_shop("Corner Shop")
    milk = shop.add_product("Milk", stock=100)
    client_id = shop.client["id"]
    shop.get("/api/products")  # the list's request rolls the shop's windows
    today = local_date("UTC", utcnow())
    assert windows.is_current(client_id, today, 28)
    record_past_sale(client_id, milk["id"], 7, utcnow() - timedelta(days=3))
    db.session.commit()
    assert not windows.is_current(client_id, today, 28)
    assert windows.roll(client_id=client_id) == 1
    db.session.commit()
    assert stored_by_product(client_id, today) == {milk["id"]: 7}


def test_a_list_rolls_its_shops_windows_and_a_sale_counts_at_once(make_shop):
    shop = make_shop("Corner Shop")
    milk = shop.add_product("Milk", stock=100)
    client_id = shop.client["id"]
    db.session.execute(delete(SalesWindow))
    db.session.commit()
    windows._current.clear()  # what this process knew: as after a restart
    assert shop.get("/api/products").status_code == 200  # a list's request rolls the shop's windows
    assert windows.is_current(client_id, local_date("UTC", utcnow()), 28)
    response = shop.post(f"/api/products/{milk['id']}/stock", json={"delta": -4, "reason": "sale"})
    assert response.status_code == 200
    today = local_date("UTC", utcnow())
    assert windows.is_current(client_id, today, 28)
    assert stored_by_product(client_id, today) == {milk["id"]: 4}
    assert stored_by_place(client_id, today) == {(milk["id"], default_location(shop)): 4}


def test_migration_fills_the_latest_days_units_and_the_downgrade_drops_the_columns(empty_database):
    t = "'2026-10-01 08:00:00'"
    app = create_app(base_config(empty_database))
    with app.app_context():
        upgrade(revision="0015l")
        for statement in (
            f"INSERT INTO clients (id, name, timezone, allow_negative_stock, created_at) VALUES (1, 'A', 'UTC', false, {t})",
            "INSERT INTO locations (id, client_id, name, kind, is_default, active, created_at) VALUES "
            f"(10, 1, 'Main', 'store', true, true, {t}), (11, 1, 'Uptown', 'store', false, true, {t})",
            "INSERT INTO products (id, client_id, name, stock, active, pack_size, created_at, updated_at) VALUES "
            f"(1, 1, 'Milk', 9, true, 1, {t}, {t}), (2, 1, 'Tea', 5, true, 1, {t}, {t})",
            "INSERT INTO product_stock (client_id, product_id, location_id, stock, updated_at) VALUES "
            f"(1, 1, 10, 4, {t}), (1, 1, 11, 5, {t}), (1, 2, 10, 5, {t})",
            "INSERT INTO sales_daily (client_id, product_id, location_id, sale_date, units) VALUES "
            "(1, 1, 10, '2026-11-01', 3), (1, 1, 10, '2026-11-03', 4), (1, 1, 11, '2026-11-02', 6)",
        ):
            db.session.execute(text(statement))
        db.session.commit()
        db.session.remove()
        upgrade(revision="0016w")
        places = db.session.execute(text(
            "SELECT product_id, location_id, sold_before, sold_today, sold_on FROM product_stock"
            " ORDER BY product_id, location_id")).all()
        assert [(p, loc, b, n, str(d)) for p, loc, b, n, d in places] == [
            (1, 10, 0, 4, "2026-11-03"), (1, 11, 0, 6, "2026-11-02"), (2, 10, 0, 0, "None")]
        products = db.session.execute(text(
            "SELECT id, sold_before, sold_today, sold_on FROM products ORDER BY id")).all()
        assert [(p, b, n, str(d)) for p, b, n, d in products] == [(1, 0, 4, "2026-11-03"), (2, 0, 0, "None")]
        assert db.session.execute(text("SELECT COUNT(*) FROM sales_windows")).scalar_one() == 0
        db.session.commit()
        db.session.remove()
        downgrade(revision="0015l")
        columns = {c["name"] for c in db.inspect(db.engine).get_columns("product_stock")}
        assert "sold_before" not in columns and "stock" in columns
        assert db.session.execute(text("SELECT SUM(stock) FROM product_stock")).scalar_one() == 14
        db.session.remove()
        db.engine.dispose()
