"""The pages in a real browser (Debian's chromium through Playwright) against the app served by
waitress, on SQLite and PostgreSQL: sign-up, products and stock, the bell, settings.
On failure every open page is saved to test-artifacts/<test>.png (and .html)."""
import re

from modules.auth.models import Client, User
from tests.support.browser import expect
from tests.support.pages import (
    PASSWORD,
    XSS_NAME,
    api_post,
    badge,
    count_rows,
    log_in,
    make_low,
    open_bell,
    product_row,
    return_to_tab,
    shop_with_staff,
    sign_up,
)


# --- sign-up, products and stock --------------------------------------------------------------

def test_owner_signs_up_adds_product_and_sees_low_then_out_badge(page):
    page.goto("/register")
    page.get_by_label("Shop name").fill("Corner Shop")
    page.get_by_label("Your email").fill("owner@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create shop").click()
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.locator(".flash")).to_have_text("Welcome to Stockbell, Corner Shop.")

    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.locator("#bell")).to_have_count(0)
    log_in(page, "owner@example.com")

    page.get_by_role("link", name="Add product").click()
    page.get_by_label("Name", exact=True).fill("Oat Milk")
    page.get_by_label("Category").fill("Dairy")
    page.get_by_label("Stock", exact=True).fill("10")  # above the shop's threshold of 5
    page.get_by_role("button", name="Add product").click()
    row = product_row(page, "Oat Milk")
    expect(row.locator(".badge")).to_have_text("OK")

    row.get_by_role("link", name="Oat Milk").click()
    page.locator("select[name=reason]").select_option("sale")
    page.get_by_label("Amount", exact=True).fill("8")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator(".flash").first).to_have_text("Stock of Oat Milk is now 2.")
    expect(page.locator("strong.stock")).to_have_text("2")
    expect(page.locator("table tbody tr").first).to_contain_text("sale")

    page.get_by_role("link", name="Products", exact=True).click()
    expect(row.locator(".badge")).to_have_text("Low")
    expect(row.locator("td.stock")).to_have_text("2")

    row.get_by_label("Amount for Oat Milk").fill("2")  # reason: sale, the first
    row.get_by_role("button", name="Apply").click()
    expect(page.locator(".flash").first).to_have_text("Stock of Oat Milk is now 0.")
    expect(row.locator(".badge")).to_have_text("Out of stock")
    expect(row.locator("td.stock")).to_have_text("0")


def test_register_form_with_bad_input_shows_messages_and_creates_nothing(page, live_server):
    page.goto("/register")
    form = page.locator('form[action$="/register"]')
    form.evaluate("form => { form.noValidate = true; }")  # the server must refuse it on its own
    page.get_by_label("Shop name").fill("Corner Shop")
    page.get_by_label("Your email").fill("not-an-email")
    page.get_by_label("Password").fill("short")
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/register")) as answer:
        page.get_by_role("button", name="Create shop").click()

    assert answer.value.status == 400
    expect(page.get_by_role("alert")).to_have_text("Please correct the fields marked below.")
    expect(page.locator('.field-error[data-field="email"]')).to_be_visible()
    expect(page.locator('.field-error[data-field="password"]')).to_have_text("Must be at least 10 characters.")
    expect(page.get_by_label("Shop name")).to_have_value("Corner Shop")
    expect(page.get_by_label("Your email")).to_have_value("not-an-email")
    assert count_rows(live_server.app, Client) == 0
    assert count_rows(live_server.app, User) == 0


# --- the bell ---------------------------------------------------------------------------------

def test_stock_change_in_one_tab_shows_in_another_users_bell_at_the_next_poll(open_page):
    owner, csrf, staff = shop_with_staff(open_page)
    product = api_post(owner, csrf, "/api/products", {"name": "Oat Milk", "category": "Dairy", "stock": 10})
    staff.clock.install()  # the 30 s poll, without waiting 30 s
    log_in(staff, "staff@example.com")
    expect(badge(staff)).to_be_hidden()

    owner.goto(f"/retail/products/{product['id']}/edit")
    owner.get_by_label("Amount", exact=True).fill("8")  # reason: sale, the first
    owner.get_by_role("button", name="Apply").click()
    expect(owner.locator(".flash-warning")).to_have_text("Low Stock Alert: Oat Milk - Only 2 remaining (Dairy)")

    expect(badge(staff)).to_be_hidden()  # nothing is pushed: the page learns it by polling
    staff.clock.run_for(30_000)
    expect(badge(staff)).to_have_text("1")


def test_bell_refreshes_when_the_tab_regains_focus(open_page):
    owner, csrf, staff = shop_with_staff(open_page)
    log_in(staff, "staff@example.com")
    expect(badge(staff)).to_be_hidden()

    make_low(owner, csrf, "Oat Milk", "Dairy")
    return_to_tab(staff)
    expect(badge(staff)).to_have_text("1")


def test_opening_a_bell_item_goes_to_products_and_marks_only_it_read(open_page):
    owner, csrf, staff = shop_with_staff(open_page)
    make_low(owner, csrf, "Oat Milk", "Dairy")
    make_low(owner, csrf, "Rye Bread", "Bakery", stock=6, delta=-6)
    log_in(staff, "staff@example.com")
    expect(badge(staff)).to_have_text("2")

    items = open_bell(staff).locator("li.bell-item")
    expect(items).to_have_count(2)
    expect(items.locator(".bell-text")).to_have_text([  # newest first
        "Out of Stock: Rye Bread (Bakery)",
        "Low Stock Alert: Oat Milk - Only 2 remaining (Dairy)",
    ])
    expect(items.locator(".badge")).to_have_text(["Out", "Low"])
    expect(items.nth(0)).to_have_class(re.compile(r"\blevel-out\b"))

    staff.locator("#bell-list .bell-text", has_text="Oat Milk").click()
    expect(staff).to_have_url(re.compile(r"/retail/products"))
    expect(badge(staff)).to_have_text("1")
    items = open_bell(staff).locator("li.bell-item")
    expect(items.filter(has_text="Oat Milk")).not_to_have_class(re.compile(r"\bunread\b"))
    expect(items.filter(has_text="Rye Bread")).to_have_class(re.compile(r"\bunread\b"))
    # Read state is each user's own: the owner's two stay unread.
    assert owner.request.get("/api/notifications/unread-count").json() == {"count": 2}


def test_mark_all_read_clears_the_badge(open_page):
    owner, csrf, staff = shop_with_staff(open_page)
    make_low(owner, csrf, "Oat Milk", "Dairy")
    make_low(owner, csrf, "Rye Bread", "Bakery")
    log_in(staff, "staff@example.com")
    expect(badge(staff)).to_have_text("2")

    items = open_bell(staff).locator("li.bell-item")
    staff.get_by_role("button", name="Mark all read").click()
    expect(badge(staff)).to_be_hidden()
    expect(items.and_(staff.locator(".unread"))).to_have_count(0)
    staff.reload()
    expect(badge(staff)).to_be_hidden()


def test_another_shops_user_sees_no_badge_for_the_first_shops_alert(open_page):
    first = open_page()
    csrf = sign_up(first, "Corner Shop", "owner@example.com")
    rival = open_page()
    sign_up(rival, "Rival Shop", "rival@example.com")
    rival.goto("/retail/products")

    make_low(first, csrf, "Oat Milk", "Dairy")
    first.goto("/retail/products")
    expect(badge(first)).to_have_text("1")  # the alert exists, in its own shop

    with rival.expect_response(re.compile(r"/api/notifications/unread-count$")) as answer:
        return_to_tab(rival)
    assert answer.value.json() == {"count": 0}
    expect(badge(rival)).to_be_hidden()
    expect(open_bell(rival)).to_have_text("Nothing yet: you will see low-stock alerts here.")
    rival.reload()  # the count rendered into the page by the server
    expect(badge(rival)).to_be_hidden()


# --- escaping ---------------------------------------------------------------------------------

def test_product_names_are_shown_as_text_not_markup(page):
    sign_up(page, "Corner Shop", "owner@example.com")
    page.goto("/retail/products/new")
    page.get_by_label("Name", exact=True).fill(XSS_NAME)
    page.get_by_label("Category").fill("Dairy")
    page.get_by_label("Stock", exact=True).fill("10")
    page.get_by_role("button", name="Add product").click()
    expect(page.locator(".flash")).to_have_text(f"Added {XSS_NAME}.")

    page.get_by_label(f"Amount for {XSS_NAME}").fill("8")
    page.get_by_role("button", name="Apply").click()
    message = f"Low Stock Alert: {XSS_NAME} - Only 2 remaining (Dairy)"
    expect(page.locator(".flash-warning")).to_have_text(message)
    expect(product_row(page, XSS_NAME).locator(".badge")).to_have_text("Low")
    expect(open_bell(page).locator(".bell-text")).to_have_text(message)
    expect(page.locator('img[src="x"]')).to_have_count(0)
    assert page.evaluate("typeof window.__xss") == "undefined"

    for path in ("/notifications", "/retail/products?stock=low"):
        page.goto(path)
        expect(page.get_by_text(XSS_NAME).first).to_be_visible()
        expect(page.locator('img[src="x"]')).to_have_count(0)
        assert page.evaluate("typeof window.__xss") == "undefined"


# --- settings ---------------------------------------------------------------------------------

def test_settings_page_refuses_a_negative_threshold_and_keeps_the_old_one(page):
    csrf = sign_up(page, "Corner Shop", "owner@example.com")
    api_post(page, csrf, "/api/notifications/settings", {"low_stock_threshold": 7})
    page.goto("/settings/notifications")
    page.locator("form.settings").evaluate("form => { form.noValidate = true; }")
    page.get_by_label("Shop threshold").fill("-1")
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/settings/notifications")) as answer:
        page.get_by_role("button", name="Save settings").click()

    assert answer.value.status == 400
    expect(page.get_by_role("alert")).to_have_text("Nothing was saved: please correct the fields marked below.")
    expect(page.locator('.field-error[data-field="low_stock_threshold"]')).to_have_text("Must be at least 0.")
    page.goto("/settings/notifications")
    expect(page.get_by_label("Shop threshold")).to_have_value("7")


def test_settings_page_saves_a_threshold_and_redirects_with_a_message(page):
    sign_up(page, "Corner Shop", "owner@example.com")
    page.goto("/settings/notifications")
    page.get_by_label("Shop threshold").fill("12")
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/settings/notifications")) as answer:
        page.get_by_role("button", name="Save settings").click()

    assert answer.value.status == 303
    expect(page.locator(".flash")).to_have_text("Notification settings saved.")
    expect(page.get_by_label("Shop threshold")).to_have_value("12")
    assert page.request.get("/api/notifications/settings").json()["low_stock_threshold"] == 12


def test_archive_asks_first_without_an_inline_handler(page):
    """The confirmation lives in static/js/confirm.js (the CSP refuses inline handlers): dismissed,
    nothing happens; accepted, the product is archived."""
    csrf = sign_up(page, "Corner Shop", "owner@example.com")
    product = api_post(page, csrf, "/api/products", {"name": "Oat milk", "stock": 10})
    page.goto(f"/retail/products/{product['id']}/edit")
    answers = iter([False, True])
    page.on("dialog", lambda dialog: dialog.accept() if next(answers) else dialog.dismiss())
    page.get_by_role("button", name="Archive product").click()
    expect(page).to_have_url(re.compile(rf"/retail/products/{product['id']}/edit$"))
    assert page.request.get(f"/api/products/{product['id']}").json()["active"] is True
    page.get_by_role("button", name="Archive product").click()
    expect(page).to_have_url(re.compile(r"/retail/products$"))
    assert page.request.get(f"/api/products/{product['id']}").json()["active"] is False
