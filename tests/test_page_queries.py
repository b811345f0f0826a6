"""The products list's faster queries (issue 18, migration 0016p) return the rows they returned
before: a search is part of the name or SKU in any case, wildcards are letters, on both databases
(PostgreSQL's trigram indexes, SQLite's lowered index); pages cover every row once in order,
across ties and from either end; the tab and dashboard counts match the lists they count."""
import re

import pytest


def names(shop, query):
    return [p["name"] for p in shop.get("/api/products?per_page=100&" + query).get_json()["items"]]


def every_page(shop, query, per_page):
    """The ids of every page of a list, in order, and its total."""
    first = shop.get(f"/api/products?per_page={per_page}&{query}").get_json()
    ids, page = [p["id"] for p in first["items"]], 2
    while len(ids) < first["total"]:
        items = shop.get(f"/api/products?per_page={per_page}&page={page}&{query}").get_json()["items"]
        assert items, (query, page)
        ids += [p["id"] for p in items]
        page += 1
    return ids, first["total"]


@pytest.fixture
def searchable(shop):
    for name, sku in [("100% Juice", "J-100"), ("Half_Price Tea", "TEA_1"), ("Crème Brûlée", "CB/2"),
                      ("Apple JUICE", "aj-3"), ("Plain", "x%y"), ("Back\\slash 'quoted'", None)]:
        shop.add_product(name, sku=sku, stock=9)
    return shop


@pytest.mark.parametrize("q, expected", [
    ("juice", ["100% Juice", "Apple JUICE"]),
    ("JUICE", ["100% Juice", "Apple JUICE"]),
    ("ice", ["100% Juice", "Apple JUICE", "Half_Price Tea"]),
    ("%", ["100% Juice", "Plain"]),  # "x%y" is Plain's SKU
    ("0%", ["100% Juice"]),
    ("_", ["Half_Price Tea"]),  # TEA_1 too: the same product
    ("f_p", ["Half_Price Tea"]),
    ("f p", []),
    ("/", ["Crème Brûlée"]),  # the escape character of a LIKE is a letter as well
    ("RÈME", ["Crème Brûlée"]),
    ("brûlée", ["Crème Brûlée"]),
    ("AJ-", ["Apple JUICE"]),
    ("j-1", ["100% Juice"]),
    ("'quoted'", ["Back\\slash 'quoted'"]),
    ("k\\s", ["Back\\slash 'quoted'"]),
    ("e", ["100% Juice", "Apple JUICE", "Back\\slash 'quoted'", "Crème Brûlée", "Half_Price Tea"]),
    ("zzz", []),
])
def test_search_is_part_of_the_name_or_sku_in_any_case(searchable, q, expected):
    from urllib.parse import quote

    found = searchable.get(f"/api/products?per_page=100&q={quote(q)}").get_json()
    assert sorted(p["name"] for p in found["items"]) == sorted(expected)
    assert found["total"] == len(expected)


@pytest.mark.parametrize("few", [3, 100])
def test_search_pages_cover_every_match_once_in_name_order(shop, monkeypatch, few):
    """Read by the ids found when a search finds few (100: the default), else counted and walked
    in order (3: these 24 matches are many)."""
    from modules.retail import listing

    monkeypatch.setattr(listing, "FEW_FOUND", few)
    for i in range(23):
        shop.add_product(f"Bolt {i % 5}", sku=f"B-{i}", stock=i)
    shop.add_product("Nut", sku="N-bolt", stock=1)  # found by its SKU
    shop.add_product("Washer", stock=1)
    ids, total = every_page(shop, "q=BOLT", 4)
    assert total == 24 and len(set(ids)) == 24
    listed = shop.get("/api/products?per_page=100&q=bolt").get_json()["items"]
    assert [p["id"] for p in listed] == ids
    assert [p["name"] for p in listed] == sorted(p["name"] for p in listed)
    html = shop.get("/retail/products?q=bolt&sort=stock&dir=desc&per_page=100").get_data(as_text=True)
    by_stock = sorted(listed, key=lambda p: (-p["stock"], p["name"], p["id"]))
    assert [int(i) for i in re.findall(r'data-product-id="(\d+)"', html)] == [p["id"] for p in by_stock]
    html = shop.get("/retail/products?q=bolt&sort=status&per_page=100").get_data(as_text=True)
    assert html.count("data-product-id=") == 24


@pytest.mark.parametrize("sort", ["name", "stock", "status"])
@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_pages_across_ties_cover_every_product_once(shop, sort, direction):
    """Many products share a name and a stock: every page, near either end (the deep half is
    read backwards), lists each once, in the order of the whole list."""
    for i in range(31):
        shop.add_product("Same", stock=(0, 3, 50)[i % 3])
    for i in range(6):
        shop.add_product(f"Other {i}", stock=3)
    query = f"sort={sort}&dir={direction}"
    whole = [p["id"] for p in shop.get(f"/api/products?per_page=100&{query}").get_json()["items"]]
    ids, total = every_page(shop, query, 5)
    assert total == 37 and ids == whole and len(set(ids)) == 37


def tab_counts(shop):
    html = shop.get("/retail/products").get_data(as_text=True)
    return {k: int(v) for k, v in re.findall(r'data-tab-count="(\w+)">(\d+)<', html)}


def test_tab_and_dashboard_counts_match_the_lists(shop):
    """The low tab's count reads an index of stock, own threshold and category alone: it must
    match the list, whichever threshold applies (the product's, its category's, the shop's)."""
    shop.post("/api/categories", json={"name": "High", "low_stock_threshold": 20})
    for stock in (0, 4, 5, 6, 15, 25):
        shop.add_product(f"Shop {stock}", stock=stock)  # the shop's threshold: 5
        shop.add_product(f"High {stock}", stock=stock, category="High")
        shop.add_product(f"Own {stock}", stock=stock, low_stock_threshold=1)
    counts = tab_counts(shop)
    for tab in ("all", "low", "out"):
        assert counts[tab] == shop.get(f"/api/products?stock={tab}").get_json()["total"], tab
    assert counts["low"] == len(names(shop, "stock=low")) == 3 + 5 + 1  # shop's 5: 0, 4, 5; High's 20: all but 25; own 1: 0
    assert counts["out"] == 3 and counts["all"] == 18
    html = shop.get("/").get_data(as_text=True)
    dashboard = {k: int(v) for k, v in re.findall(r'data-count="(\w+)">(\d+)<', html)}
    assert dashboard["out"] == counts["out"] and dashboard["low"] == counts["low"] - counts["out"]


def test_snoozed_counts_a_muted_and_snoozed_product_once(shop):
    """The snoozed tab is counted as muted plus snoozed-and-not-muted (two index-only counts):
    a product both muted and snoozed must count once, an ended snooze not at all."""
    from datetime import timedelta

    from sqlalchemy import update

    from modules.extensions import db
    from modules.retail.models import Product
    from modules.timeutil import utcnow

    later, earlier = utcnow() + timedelta(days=3), utcnow() - timedelta(days=3)
    for name, muted, until in [("Both", True, later), ("Muted", True, None), ("Snoozed", False, later),
                               ("Ended", False, earlier), ("Plain", False, None)]:
        product = shop.add_product(name, stock=50)
        db.session.execute(update(Product).where(Product.id == product["id"]).values(muted=muted, snoozed_until=until))
    db.session.commit()
    assert tab_counts(shop)["snoozed"] == 3
    listed = shop.get("/retail/products?stock=snoozed").get_data(as_text=True)
    assert re.findall(r'<td class="name" data-label="Name"><a [^>]*>([^<]*)</a>', listed) == ["Both", "Muted", "Snoozed"]
    html = shop.get("/").get_data(as_text=True)
    assert re.search(r'data-count="snoozed">3<', html)


def test_search_within_a_tab_and_a_category(shop):
    shop.add_product("Milk whole", stock=0, category="Dairy")
    shop.add_product("Milk skim", stock=50, category="Dairy")
    shop.add_product("Oat milk", stock=2)
    assert names(shop, "q=MILK&stock=low") == ["Milk whole", "Oat milk"]
    dairy = next(c for c in shop.get("/api/categories").get_json()["items"] if c["name"] == "Dairy")
    assert names(shop, f"q=milk&category_id={dairy['id']}") == ["Milk skim", "Milk whole"]


def product_indexes():
    """The names of the products table's indexes (SQLAlchemy's inspector leaves SQLite's
    expression indexes out)."""
    from sqlalchemy import text

    from modules.extensions import db

    if db.engine.dialect.name == "postgresql":
        found = "SELECT indexname FROM pg_indexes WHERE tablename = 'products'"
    else:
        found = "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'products'"
    return set(db.session.execute(text(found)).scalars())


def test_0016p_indexes_come_with_it_and_go_with_its_downgrade(empty_database):
    from flask_migrate import downgrade, upgrade

    from modules import create_app
    from modules.extensions import db
    from tests.support.app import base_config

    app = create_app(base_config(empty_database))

    with app.app_context():
        upgrade(revision="0016p")
        if db.engine.dialect.name == "postgresql":
            added = {"ix_products_client_active_low", "ix_products_name_trigrams", "ix_products_sku_trigrams"}
        else:
            added = {"ix_products_client_active_low", "ix_products_client_search"}
        assert added <= product_indexes()
        db.session.commit()
        downgrade(revision="0015l")
        assert not added & product_indexes() and "ix_products_client_active_name" in product_indexes()
        db.session.commit()
        upgrade(revision="0016p")  # again, with pg_trgm already there
        assert added <= product_indexes()
        db.session.remove()
        db.engine.dispose()


def test_0017p_cover_index_comes_with_it_and_goes_with_its_downgrade(empty_database):
    from flask_migrate import downgrade, upgrade

    from modules import create_app
    from modules.extensions import db
    from tests.support.app import base_config

    app = create_app(base_config(empty_database))

    with app.app_context():
        upgrade(revision="0017p")
        assert "ix_products_client_cover" in product_indexes()
        db.session.commit()
        downgrade(revision="0017o")
        assert "ix_products_client_cover" not in product_indexes() and "ix_products_client_active_low" in product_indexes()
        db.session.remove()
        db.engine.dispose()
