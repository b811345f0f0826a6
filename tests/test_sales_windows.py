"""The forecast's window kept on the places and products (retail.windows), on SQLite and
PostgreSQL: day after day, with rolls that slide, recount or do not happen, the stored window
equals the rollup's; the scan and the pages read it once the shop's windows are current and the
rollup otherwise, with the same answers; a sale of another day marks the windows for a recount;
migration 0016w fills today's part from the rollup."""
import random
from datetime import datetime, timedelta

from flask_migrate import downgrade, upgrade
from sqlalchemy import delete, event, func, select, text, update

from modules import create_app
from modules.alerts.service import raise_alerts
from modules.auth.models import NotificationSettings
from modules.extensions import db
from modules.notifications import dashboard
from modules.retail import listing, windows
from modules.retail.models import Product, ProductStock, SalesDaily, SalesWindow
from modules.retail.sales import record_sales
from modules.timeutil import local_date, utcnow
from tests.support.app import base_config, statements_of
from tests.support.shops import record_past_sale

NEW_YORK = "America/New_York"


def add_location(shop, name):
    response = shop.post("/api/locations", json={"name": name})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def default_location(shop):
    return next(loc["id"] for loc in shop.get("/api/locations").get_json()["items"] if loc["is_default"])


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


def forecast_shop(make_shop, name):
    """A shop with the forecast on and four products at two places, sold at different rates."""
    shop = make_shop(name)
    assert shop.post("/api/notifications/settings", json={"forecast_days": 5}).status_code == 200
    uptown = add_location(shop, "Uptown")
    for i, (stock, sold) in enumerate([(30, 280), (100, 28), (9, 300), (60, 0)]):
        product = shop.add_product(f"Item {i}", stock=stock, low_stock_threshold=2)
        if sold:
            record_past_sale(shop.client["id"], product["id"], sold, utcnow() - timedelta(days=3))
    moved = shop.post("/api/transfers", json={"product_id": product["id"], "from_location_id": default_location(shop),
                                              "to_location_id": uptown, "quantity": 20})
    assert moved.status_code == 201, moved.get_json()
    db.session.commit()
    return shop


def alerts_of(new):
    return sorted((a.kind, a.days_left, a.stock) for a in new)


def test_the_scan_reads_the_stored_window_once_current_and_the_rollup_before(make_shop):
    rolled, stale = forecast_shop(make_shop, "Rolled"), forecast_shop(make_shop, "Stale")
    assert windows.roll(client_id=rolled.client["id"]) == 1
    db.session.execute(delete(SalesWindow).where(SalesWindow.client_id == stale.client["id"]))
    db.session.commit()
    # The stored windows are what the rolled shop's scan reads: emptying its rollup changes nothing.
    db.session.execute(update(SalesDaily).where(SalesDaily.client_id == rolled.client["id"]).values(units=0))
    db.session.commit()
    from_stored = raise_alerts(client_id=rolled.client["id"])
    from_rollup = raise_alerts(client_id=stale.client["id"])
    db.session.commit()
    assert alerts_of(from_stored) == alerts_of(from_rollup)
    assert [a.kind for a in from_stored].count("forecast") == 2


def answers(shop):
    """What the pages read of the window: days left in the API, the products page's tab counts
    (whole shop and per place), the dashboard's running-out list."""
    client_id, now = shop.client["id"], utcnow()
    places = [loc["id"] for loc in shop.get("/api/locations").get_json()["items"]]
    products = shop.get("/api/products?per_page=50").get_json()
    soon = sorted(row.name for row in dashboard.attention(client_id, now).running_out)
    per_place = [(listing.status_counts(client_id, now, location_id=place),
                  sorted(row.name for row in dashboard.attention(client_id, now, location_id=place).running_out),
                  [p["days_left"] for p in shop.get(f"/api/products?per_page=50&location_id={place}").get_json()["items"]])
                 for place in places]
    db.session.rollback()
    return products, listing.status_counts(client_id, now), soon, per_place


def test_pages_answer_the_same_from_the_stored_window_and_the_rollup(make_shop):
    shop = forecast_shop(make_shop, "Corner Shop")
    client_id = shop.client["id"]
    windows.roll(client_id=client_id)
    db.session.commit()
    stored = answers(shop)
    # A row naming another day: readers must not trust it (and no request rolls it meanwhile).
    today = local_date("UTC", utcnow())
    db.session.execute(update(SalesWindow).where(SalesWindow.client_id == client_id)
                       .values(window_day=today - timedelta(days=5)))
    db.session.commit()
    windows._current[(str(db.engine.url), client_id)] = ("UTC", today)
    assert not windows.is_current(client_id, today, 28)
    from_rollup = answers(shop)
    assert from_rollup == stored
    assert sorted((p["name"], p["days_left"]) for p in stored[0]["items"]) == [
        ("Item 0", 3), ("Item 1", 100), ("Item 2", 0), ("Item 3", None)]
    assert stored[1]["soon"] == 2 and stored[2] == ["Item 0", "Item 2"]


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


def boundary_products():
    """(stock, units sold today, units sold yesterday): for a 7-day window and forecast_days = 4,
    the lowest and highest stock of days_left 3, 4 and 5 at several rates, the units sold partly
    today, or all yesterday (so the newest day's units are yesterday's)."""
    out = []
    for units in (7, 10, 13, 30):
        for days in (3, 4, 5):
            for stock in (-(-days * units // 7), -(-(days + 1) * units // 7) - 1):
                out += [(stock, units // 2, units - units // 2), (stock, 0, units)]
    return out


def boundary_shops(make_shop, now, products):
    """Two shops alike in every product of `products` (forecast_days 4, a 7-day window): the
    first's windows rolled, the second's stale (its marker deleted)."""
    shops = []
    for name in ("Rolled", "Stale"):
        shop = make_shop(name)
        assert shop.post("/api/notifications/settings",
                         json={"forecast_days": 4, "forecast_window_days": 7}).status_code == 200
        for i, (stock, today, yesterday) in enumerate(products):
            product = shop.add_product(f"Item {i}", stock=stock, low_stock_threshold=0)
            for units, days_ago in ((today, 0), (yesterday, 1)):
                if units:
                    record_past_sale(shop.client["id"], product["id"], units, now - timedelta(days=days_ago))
        db.session.commit()
        shops.append(shop)
    rolled, stale = shops
    assert windows.roll(client_id=rolled.client["id"]) == 1
    db.session.execute(delete(SalesWindow).where(SalesWindow.client_id == stale.client["id"]))
    db.session.commit()
    return rolled, stale


def test_the_stored_window_and_its_sieve_alert_as_the_rollup_does_at_every_boundary(make_shop):
    """Two shops alike in every product, one rolled and one not: the same forecasts, and exactly
    those of days_left <= 4."""
    now = utcnow()
    products = boundary_products()
    rolled, stale = boundary_shops(make_shop, now, products)
    assert windows.is_current(rolled.client["id"], local_date("UTC", now), 7)
    names = {}
    for shop in (rolled, stale):
        for product in shop.get("/api/products?per_page=100").get_json()["items"]:
            names[product["id"]] = product["name"]

    def forecasts(shop):
        new = raise_alerts(client_id=shop.client["id"])
        db.session.commit()
        return sorted((names[a.product_id], a.days_left) for a in new if a.kind == "forecast")

    expected = sorted((f"Item {i}", stock * 7 // (today + yesterday))
                      for i, (stock, today, yesterday) in enumerate(products) if stock * 7 // (today + yesterday) <= 4)
    assert forecasts(stale) == expected
    assert forecasts(rolled) == expected


def test_the_forecasts_sieve_is_read_from_its_index(make_shop):
    """The forecast rule's statement over stored windows, through EXPLAIN (sequential and bitmap
    scans priced out on PostgreSQL, where the tables are tiny): it reads ix_product_stock_cover.
    Compared with a float parameter, PostgreSQL would cast the numeric cover of every row and
    could not use the index at all."""
    shop = forecast_shop(make_shop, "Sieved")
    assert windows.roll(client_id=shop.client["id"]) == 1
    db.session.commit()
    seen = []

    def record(conn, cursor, statement, parameters, *args):
        if statement.startswith("INSERT INTO stock_alert_log") and "sold_before" in statement:
            seen.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        new = raise_alerts(client_id=shop.client["id"])
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    db.session.rollback()
    assert [a.kind for a in new].count("forecast") == 2
    assert len(seen) == 1, [s for s, _ in seen]
    with db.engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            rows = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + seen[0][0], seen[0][1]).all()
            plan = "\n".join(row[-1] for row in rows)
        else:
            connection.exec_driver_sql("SET enable_seqscan = off; SET enable_bitmapscan = off")
            plan = "\n".join(row[0] for row in connection.exec_driver_sql("EXPLAIN " + seen[0][0], seen[0][1]))
    assert "ix_product_stock_cover" in plan, plan


def test_the_pages_sieve_keeps_every_product_running_out_at_every_boundary(make_shop):
    """The "running out" tab (its count and its list) and the dashboard's count and list read the
    products' cover index (a sieve, then the exact rule) in a rolled shop, the rollup in a shop
    like it whose windows are stale: the same products, exactly those of days_left <= 4."""
    now = utcnow()
    products = boundary_products()
    rolled, stale = boundary_shops(make_shop, now, products)
    windows._current[(str(db.engine.url), stale.client["id"])] = ("UTC", local_date("UTC", now))  # no request rolls it

    def running_out(shop):
        client_id = shop.client["id"]
        listed, total = listing.list_products(client_id, stock="soon", per_page=100, now=now)
        attention = dashboard.attention(client_id, now, cap=100)
        db.session.rollback()
        return (total, listing.status_counts(client_id, now)["soon"], sorted(p.name for p in listed),
                attention.counts["running_out"], [(row.name, row.days_left) for row in attention.running_out])

    expected = sorted((f"Item {i}", stock * 7 // (today + yesterday))
                      for i, (stock, today, yesterday) in enumerate(products) if stock * 7 // (today + yesterday) <= 4)
    assert windows.is_current(rolled.client["id"], local_date("UTC", now), 7)
    assert not windows.is_current(stale.client["id"], local_date("UTC", now), 7)
    from_stored, from_rollup = running_out(rolled), running_out(stale)
    assert from_stored == from_rollup
    assert from_stored[0] == from_stored[1] == from_stored[3] == len(expected)
    assert from_stored[2] == sorted(name for name, _ in expected)
    assert sorted(from_stored[4]) == expected


def test_the_running_out_pages_read_the_cover_sieve_in_as_many_statements_whatever_the_products(make_shop, app):
    """Once a shop's windows are current, the products page's "running out" tab and the dashboard
    read no rollup, every statement that applies the forecast's rule to `products` carries the
    cover index's sieve, and the pages take as many statements for 12 products as for 4."""
    shop = make_shop("Corner Shop")
    assert shop.post("/api/notifications/settings", json={"forecast_days": 5}).status_code == 200

    def add(count):
        for _ in range(count):
            i = len(shop.get("/api/products?per_page=100").get_json()["items"])
            product = shop.add_product(f"Item {i}", stock=10 + i, low_stock_threshold=2)
            record_past_sale(shop.client["id"], product["id"], 100 + i, utcnow() - timedelta(days=2))
        db.session.commit()
        windows.roll(client_id=shop.client["id"])
        db.session.commit()

    def read():
        found = {}
        for path in ("/retail/products?stock=soon", "/"):
            found[path] = statements_of(app, lambda: shop.get(path))
        return found

    add(4)
    few = read()
    add(8)
    many = read()
    sieve = "NULLIF(products.sold_before + products.sold_today, 0)) <="
    for path, statements in many.items():
        assert len(statements) == len(few[path]), path
        assert not [s for s in statements if "sales_daily" in s], path
        ruled = [s for s in statements if "WHEN (products.sold_on =" in s]  # the rule over products
        assert ruled and all(sieve in s for s in ruled), path
    html = shop.get("/retail/products?stock=soon").get_data(as_text=True)
    assert 'data-tab-count="soon">12<' in html
