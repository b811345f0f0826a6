"""What reads the forecast's stored windows (retail.windows), on SQLite and PostgreSQL: the scan
and the pages read them once the shop's windows are current and the rollup otherwise, with the
same answers; the cover index's sieve keeps every place and product at each boundary of
days_left, is read from its index, and holds the pages' statements steady whatever the products.
The windows' upkeep: tests/test_sales_windows.py."""
from datetime import timedelta

from sqlalchemy import delete, event, update

from modules.alerts.service import raise_alerts
from modules.extensions import db
from modules.notifications import dashboard
from modules.retail import listing, windows
from modules.retail.models import SalesDaily, SalesWindow
from modules.timeutil import local_date, utcnow
from tests.support.app import statements_of
from tests.support.shops import add_location, default_location, record_past_sale


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
