"""The back office in a real browser (Debian's chromium through Playwright), on SQLite and
PostgreSQL, at desktop (1280x800) and phone (390x844) sizes: the dashboard, a product's chart
and history, the products list as cards on a phone, adjusting stock with a preview, and the CSV
import with its progress bar. The README's "Screens" (docs/screens/) are taken only when asked:
`SCREENSHOTS=1 python -m pytest tests/test_browser_back_office.py -k sqlite`."""
import os
import re
from datetime import timedelta
from pathlib import Path

from modules.extensions import db
from modules.retail.models import StockMovement
from modules.timeutil import utcnow
from tests.support.browser import expect
from tests.support.pages import (
    PASSWORD,
    api_post,
    badge,
    nav_link,
    open_bell,
    product_row,
    sideways_scrolling,
    sign_up,
)

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
SCREENS = Path(__file__).resolve().parent.parent / "docs" / "screens"
TAKE_SCREENSHOTS = os.environ.get("SCREENSHOTS") == "1"  # a normal run never rewrites tracked files


def screenshot(page, database_url, name):
    """docs/screens/<name>.png when SCREENSHOTS=1, from the SQLite run (one picture, not one per database)."""
    if TAKE_SCREENSHOTS and database_url.startswith("sqlite"):
        SCREENS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENS / f"{name}.png"), full_page=True)


def tile(page, key):
    return page.locator(f'[data-count="{key}"]')


def log_in_to_dashboard(page, email):
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.get_by_role("heading", name="What needs attention")).to_be_visible()


def quiet_shop(page, csrf):
    """A few products, one low and one out, whose alerts are not logged yet (alerts off while
    stocking, then on): the next stock change is what rings the bell."""
    api_post(page, csrf, "/api/notifications/settings", {"low_stock_enabled": False})
    milk = api_post(page, csrf, "/api/products", {"name": "Oat Milk", "category": "Dairy", "stock": 10})
    api_post(page, csrf, f"/api/products/{milk['id']}/stock", {"delta": -8, "reason": "sale"})
    api_post(page, csrf, "/api/products", {"name": "Rye Bread", "category": "Bakery", "stock": 0})
    api_post(page, csrf, "/api/products", {"name": "Bananas", "category": "Produce", "stock": 40})
    api_post(page, csrf, "/api/notifications/settings", {"low_stock_enabled": True})
    return milk


def test_phone_owner_sees_attention_sells_the_last_of_a_low_product_and_sees_it_out(open_page, database_url):
    setup = open_page()
    csrf = sign_up(setup, "Corner Shop", "owner@example.com")
    milk = quiet_shop(setup, csrf)

    phone = open_page()
    phone.set_viewport_size(PHONE)
    log_in_to_dashboard(phone, "owner@example.com")
    expect(tile(phone, "out")).to_have_text("1")
    expect(tile(phone, "low")).to_have_text("1")
    expect(badge(phone)).to_be_hidden()
    action = phone.locator(".needs-action")
    expect(action.locator("a[href$='/edit']")).to_have_text(["Rye Bread", "Oat Milk"])  # out first
    assert sideways_scrolling(phone) is None
    screenshot(phone, database_url, "dashboard-phone")

    action.get_by_role("link", name="Oat Milk").click()
    expect(phone).to_have_url(re.compile(rf"/retail/products/{milk['id']}/edit$"))
    # Added today: its line is drawn at today's edge only (none for the days before it existed).
    expect(phone.locator("svg.chart path.line")).to_have_count(1)
    expect(phone.locator(".chart-note")).to_contain_text("when the product was added")
    expect(phone.locator("svg.chart line.threshold")).to_have_count(1)  # a line has no height: not "visible"
    expect(phone.locator("svg.chart .threshold-label")).to_have_text("threshold 5")
    expect(phone.locator("table.movements tbody tr")).to_have_count(2)
    expect(phone.locator("table.movements tbody tr").first.locator("td.reason")).to_have_text("sale")
    assert sideways_scrolling(phone) is None

    phone.get_by_label("Reason", exact=True).select_option("sale")
    phone.get_by_label("Amount", exact=True).fill("2")
    expect(phone.locator("form.adjust-form output.stock-after")).to_have_text("→ 0")  # before Apply
    phone.get_by_role("button", name="Apply").click()
    expect(phone.locator(".flash").first).to_have_text("Stock of Oat Milk is now 0.")
    expect(phone.locator(".flash-warning")).to_have_text("Out of Stock: Oat Milk (Dairy)")
    expect(phone.locator("table.movements tbody tr").first.locator("td.after")).to_have_text("0")
    expect(badge(phone)).to_have_text("1")
    assert sideways_scrolling(phone) is None

    nav_link(phone, "Dashboard").click()  # behind the phone's Menu button
    expect(tile(phone, "out")).to_have_text("2")
    expect(tile(phone, "low")).to_have_text("0")
    expect(phone.locator(".last-alerts li").first).to_contain_text("Out of Stock: Oat Milk (Dairy)")
    expect(open_bell(phone).locator(".bell-text")).to_have_text(["Out of Stock: Oat Milk (Dairy)"])
    assert sideways_scrolling(phone) is None


def spread_over_days(app, product_id, days_ago):
    """Back-date a product's movements, oldest first, to `days_ago` days before now: a history
    that took weeks, as a real shop's would."""
    with app.app_context():
        ids = db.session.execute(db.select(StockMovement.id).where(StockMovement.product_id == product_id)
                                 .order_by(StockMovement.id)).scalars().all()
        for movement_id, ago in zip(ids, days_ago):
            db.session.execute(db.update(StockMovement).where(StockMovement.id == movement_id)
                               .values(created_at=utcnow() - timedelta(days=ago)))
        db.session.commit()
        db.session.remove()


def test_desktop_dashboard_and_a_product_with_its_chart(page, live_server, database_url):
    page.set_viewport_size(DESKTOP)
    csrf = sign_up(page, "Corner Shop", "owner@example.com")
    api_post(page, csrf, "/api/notifications/settings", {"forecast_days": 14, "timezone": "Europe/Berlin"})
    beans = api_post(page, csrf, "/api/products", {"name": "Espresso Beans", "category": "Coffee", "stock": 120,
                                                   "low_stock_threshold": 15})
    for delta, reason in ((-30, "sale"), (-25, "sale"), (40, "delivery"), (-35, "sale"), (-20, "sale")):
        api_post(page, csrf, f"/api/products/{beans['id']}/stock", {"delta": delta, "reason": reason})
    spread_over_days(live_server.app, beans["id"], (26, 21, 15, 11, 6, 2))
    for name, category, stock in (("Oat Milk", "Dairy", 3), ("Rye Bread", "Bakery", 0), ("Sourdough", "Bakery", 2),
                                  ("Bananas", "Produce", 40), ("Dish Soap", "Household", 9)):
        api_post(page, csrf, "/api/products", {"name": name, "category": category, "stock": stock})
    page.goto("/")
    expect(tile(page, "out")).to_have_text("1")
    expect(tile(page, "low")).to_have_text("2")
    expect(tile(page, "running_out")).to_have_text("1")  # the beans: 50 left at 110 per 28 days, 12 days
    expect(page.locator(".needs-action .action-soon")).to_contain_text("Espresso Beans")
    expect(page.locator("svg.chart.bars rect.bar")).to_have_count(30)
    expect(page.locator(".shop-zone")).to_have_text("Europe/Berlin")
    screenshot(page, database_url, "dashboard")

    page.locator(".needs-action").get_by_role("link", name="Espresso Beans").click()
    expect(page.locator("svg.chart path.line")).to_have_attribute("d", re.compile(r"^M[\d.]+,[\d.]+(H[\d.]+V[\d.]+){6}H"))
    expect(page.locator("svg.chart .threshold-label")).to_have_text("threshold 15")
    expect(page.locator(".chart-note")).to_contain_text("days left")
    expect(page.locator("table.movements td.when").first).to_have_text(re.compile(r" CES?T$"))
    screenshot(page, database_url, "product")
    page.get_by_role("link", name="90 days").click()
    expect(page.get_by_role("heading", name="Stock, last 90 days")).to_be_visible()


def test_phone_products_list_is_cards_without_sideways_scrolling(page, database_url):
    csrf = sign_up(page, "Corner Shop", "owner@example.com")
    for i, stock in enumerate((0, 2, 4, 30, 55, 12, 0, 8)):
        api_post(page, csrf, "/api/products", {"name": f"Product with a fairly long name {i}", "sku": f"SKU-{i:04}",
                                               "category": "Pantry", "stock": stock})
    page.set_viewport_size(PHONE)
    page.goto("/retail/products")
    rows = page.locator("table.products tbody tr")
    expect(rows).to_have_count(8)
    assert sideways_scrolling(page) is None
    for row in rows.all():
        for cell in ("td.name a", "td.stock", "td.status .badge"):
            box = row.locator(cell).bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], (cell, box)
    out = product_row(page, "Product with a fairly long name 0")
    expect(out).to_have_class(re.compile(r"\bstatus-out\b"))
    expect(out.locator("td.status")).to_contain_text("Out of stock")
    screenshot(page, database_url, "products-phone")


def test_desktop_list_sorts_filters_and_keeps_its_query_after_an_adjust(page):
    page.set_viewport_size(DESKTOP)
    csrf = sign_up(page, "Corner Shop", "owner@example.com")
    for name, stock in (("Apples", 40), ("Bread", 0), ("Milk", 3), ("Mint", 4)):
        api_post(page, csrf, "/api/products", {"name": name, "stock": stock})
    page.goto("/retail/products")
    expect(page.locator(".tabs .tab-low .count")).to_have_text("3")
    page.locator(".tabs .tab-low").click()
    expect(page).to_have_url(re.compile(r"/retail/products\?stock=low$"))
    page.get_by_role("link", name="Stock", exact=True).click()
    expect(page).to_have_url(re.compile(r"\?stock=low&sort=stock$"))
    expect(page.locator("td.name a")).to_have_text(["Bread", "Milk", "Mint"])
    page.get_by_role("link", name="Stock", exact=True).click()  # the arrow is aria-hidden
    expect(page).to_have_url(re.compile(r"\?stock=low&sort=stock&dir=desc$"))
    expect(page.locator("td.name a")).to_have_text(["Mint", "Milk", "Bread"])

    row = product_row(page, "Milk")
    row.get_by_label("Reason for Milk").select_option("delivery")
    row.get_by_label("Amount for Milk").fill("5")
    expect(row.locator("output.stock-after")).to_have_text("→ 8")
    row.get_by_label("Reason for Milk").select_option("count")
    expect(row.locator("output.stock-after")).to_have_text("→ 5")
    row.get_by_label("Reason for Milk").select_option("sale")
    expect(row.locator("output.stock-after")).to_have_text("→ -2")
    row.get_by_label("Amount for Milk").fill("1")
    row.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(r"/retail/products\?stock=low&sort=stock&dir=desc$"))
    expect(page.locator(".flash").first).to_have_text("Stock of Milk is now 2.")
    expect(product_row(page, "Milk").locator("td.stock")).to_have_text("2")


def test_import_shows_a_progress_bar_and_export_gives_the_same_file_back(page):
    sign_up(page, "Corner Shop", "owner@example.com")
    # Every column, the purchasing ones empty (pack size 1), so that the export is this file again.
    lines = ["name,sku,category,stock,low_stock_threshold,active,supplier,cost_price,sell_price,reorder_quantity,"
             "max_stock,pack_size"]
    lines += [f"Product {i:05},SKU-{i:05},Category {i % 40:02},{i % 50},{'' if i % 3 else 4},true,,,,,,1"
              for i in range(10_000)]
    content = ("\r\n".join(lines) + "\r\n").encode()
    page.goto("/retail/products")
    page.get_by_role("link", name="Import / export").click()
    page.get_by_label("CSV file").set_input_files({"name": "products.csv", "mimeType": "text/csv", "buffer": content})
    with page.expect_response(lambda r: r.url.endswith("/api/products/import")) as answer:
        page.get_by_role("button", name="Import").click()
    assert answer.value.status == 200
    expect(page.locator("progress.import-progress")).to_be_visible()
    expect(page.locator("progress.import-progress")).to_have_attribute("value", "100")
    expect(page.locator(".import-status")).to_have_text("Imported: 10000 new, 0 updated.")
    exported = page.request.get("/api/products/export.csv")
    assert exported.ok and exported.body() == content

    bad = b"name,sku,stock\nGood,G,1\n,NO-NAME,2\nNeg,N,-1\n"
    page.get_by_label("CSV file").set_input_files({"name": "bad.csv", "mimeType": "text/csv", "buffer": bad})
    page.get_by_role("button", name="Import").click()
    expect(page.locator(".import-status")).to_have_text("Nothing was imported.")
    expect(page.locator(".import-errors li")).to_have_text(["line 3: name: This field is required.",
                                                            "line 4: stock: Must be at least 0."])
    assert page.request.get("/api/products?q=Good").json()["total"] == 0


def test_archive_asks_first_and_an_archived_product_offers_only_restore(page):
    csrf = sign_up(page, "Corner Shop", "owner@example.com")
    jam = api_post(page, csrf, "/api/products", {"name": "Plum Jam", "stock": 3})
    page.goto(f"/retail/products/{jam['id']}/edit")

    page.once("dialog", lambda dialog: dialog.dismiss())
    page.get_by_role("button", name="Archive product").click()
    expect(page.get_by_role("button", name="Archive product")).to_be_visible()  # dismissed: nothing sent
    assert page.request.get(f"/api/products/{jam['id']}").json()["active"] is True

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Archive product").click()
    expect(page.locator(".flash")).to_have_text("Archived Plum Jam; it will not alert again.")
    page.goto(f"/retail/products/{jam['id']}/edit")
    expect(page.locator(".badge-archived")).to_have_text("Archived")
    expect(page.get_by_role("button", name="Save")).to_have_count(0)
    expect(page.get_by_role("button", name="Apply")).to_have_count(0)
    expect(page.locator("table.movements tbody tr")).to_have_count(1)  # the history stays readable

    page.get_by_role("button", name="Restore product").click()
    expect(page.locator(".flash").first).to_have_text("Restored Plum Jam; it alerts again.")
    expect(page.get_by_role("button", name="Apply")).to_be_visible()
    restored = page.request.get(f"/api/products/{jam['id']}").json()
    assert restored["active"] is True and restored["status"] == "low"
