"""Snooze, category thresholds and days left in a real browser (Debian's chromium through
Playwright), on SQLite and PostgreSQL: the products list's snooze controls, its threshold and
days-left columns, the categories page, and snoozing from the bell.
On failure every open page is saved to test-artifacts/<test>.png (and .html)."""
import re
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from tests.support.browser import expect
from tests.support.pages import (
    XSS_NAME,
    api_post,
    badge,
    log_in,
    make_low,
    open_bell,
    product_row,
    shop_with_staff,
    sign_up,
)

SHOP_ZONE = "Pacific/Auckland"  # far from UTC: the shop's midnight is rarely UTC's


def snoozed_until(days, zone=SHOP_ZONE):
    """A pattern of the badge "Snoozed until <shop-local midnight `days` days after today> <zone>",
    for the shop's today now and a minute on (a test running across midnight must not fail)."""
    texts = set()
    for instant in (datetime.now(timezone.utc), datetime.now(timezone.utc) + timedelta(minutes=1)):
        end = datetime.combine(instant.astimezone(ZoneInfo(zone)).date() + timedelta(days=days), time(0),
                               tzinfo=ZoneInfo(zone))
        texts.add(re.escape(f"Snoozed until {end:%Y-%m-%d %H:%M} {end.tzname()}"))
    return re.compile(f"^({'|'.join(sorted(texts))})$")


def get_product(page, product_id):
    response = page.request.get(f"/api/products/{product_id}")
    assert response.ok, response.text()
    return response.json()


def snooze_buttons(row):
    return row.locator(".snooze button")


# --- the products list: snooze controls -------------------------------------------------------

def test_owner_snoozes_a_week_from_a_filtered_list_and_ends_it_keeping_the_filter(page):
    csrf = sign_up(page, "Corner Shop", "owner@example.com")
    api_post(page, csrf, "/api/notifications/settings", {"timezone": SHOP_ZONE})
    product = make_low(page, csrf, "Oat Milk", "Dairy")
    listing = "/retail/products?stock=low&q=oat"
    page.goto(listing)
    row = product_row(page, "Oat Milk")
    expect(snooze_buttons(row)).to_have_text(["Snooze 1 day", "1 week", "Mute"])
    next_fields = row.locator('.snooze input[name="next"]')
    expect(next_fields).to_have_count(3)
    for field in next_fields.all():
        expect(field).to_have_value(listing)
    expect(row.locator(".badge-snoozed")).to_have_count(0)

    row.get_by_role("button", name="1 week: Oat Milk").click()
    expect(page).to_have_url(re.compile(r"/retail/products\?stock=low&q=oat$"))
    expect(page.locator(".flash")).to_have_text("Snoozed Oat Milk.")
    expect(page.get_by_label("Stock", exact=True)).to_have_value("low")  # the filter form too
    expect(row.locator(".badge-snoozed")).to_have_text(snoozed_until(7))
    expect(row.locator(".badge-low")).to_have_text("Low")  # snoozed, still low
    expect(snooze_buttons(row)).to_have_text(["End snooze"])
    assert get_product(page, product["id"])["snoozed_until"] is not None

    row.get_by_role("button", name="End snooze").click()
    expect(page).to_have_url(re.compile(r"/retail/products\?stock=low&q=oat$"))
    expect(page.locator(".flash").first).to_have_text("Alerts for Oat Milk are back on.")
    expect(row.locator(".badge-snoozed")).to_have_count(0)
    expect(snooze_buttons(row)).to_have_text(["Snooze 1 day", "1 week", "Mute"])
    assert get_product(page, product["id"])["snoozed_until"] is None


def test_owner_mutes_from_the_list_and_sees_muted_then_unmutes(page):
    csrf = sign_up(page, "Corner Shop", "owner@example.com")
    product = make_low(page, csrf, "Oat Milk", "Dairy")
    page.goto("/retail/products")
    row = product_row(page, "Oat Milk")

    row.get_by_role("button", name="Mute: Oat Milk").click()
    expect(page.locator(".flash")).to_have_text("Muted Oat Milk.")
    expect(row.locator(".badge-snoozed")).to_have_text("Muted")
    expect(snooze_buttons(row)).to_have_text(["Unmute"])
    assert get_product(page, product["id"])["muted"] is True

    row.get_by_role("button", name="Unmute").click()
    expect(row.locator(".badge-snoozed")).to_have_count(0)
    assert get_product(page, product["id"])["muted"] is False


def test_staff_sees_no_snooze_controls_on_the_products_list(open_page):
    owner, csrf, staff = shop_with_staff(open_page)
    product = make_low(owner, csrf, "Oat Milk", "Dairy")
    owner.goto("/retail/products")
    expect(snooze_buttons(product_row(owner, "Oat Milk"))).to_have_count(3)  # the owner's, for contrast

    log_in(staff, "staff@example.com")
    row = product_row(staff, "Oat Milk")
    expect(row.locator(".badge-low")).to_have_text("Low")
    expect(row.locator(".snooze")).to_have_count(0)
    expect(staff.locator('form[action$="/snooze"]')).to_have_count(0)
    expect(staff.get_by_role("button", name=re.compile(r"^(Snooze 1 day|1 week|Mute)\b"))).to_have_count(0)

    # Nor can staff snooze by posting the form or the API call themselves.
    token = staff.locator('meta[name="csrf-token"]').get_attribute("content")
    refused = staff.request.post(f"/api/products/{product['id']}/snooze", data={"days": 7},
                                 headers={"X-CSRFToken": token})
    assert refused.status == 403, refused.text()
    sent_back = staff.request.post(f"/retail/products/{product['id']}/snooze",
                                   form={"csrf_token": token, "days": "7", "next": "/retail/products"})
    assert "Only owners and managers can snooze a product." in sent_back.text()
    assert get_product(staff, product["id"])["snoozed_until"] is None


# --- the products list: threshold source and days left ----------------------------------------

def test_threshold_column_names_the_category_and_days_left_follows_sales(page):
    csrf = sign_up(page, "Corner Shop", "owner@example.com")
    api_post(page, csrf, "/api/notifications/settings", {"forecast_days": 3})
    api_post(page, csrf, "/api/categories", {"name": "Coffee", "low_stock_threshold": 20})
    beans = api_post(page, csrf, "/api/products", {"name": "Espresso Beans", "category": "Coffee", "stock": 305})
    api_post(page, csrf, f"/api/products/{beans['id']}/stock", {"delta": -280, "reason": "sale"})
    api_post(page, csrf, "/api/products", {"name": "Decaf", "category": "Coffee", "stock": 50,
                                           "low_stock_threshold": 8})
    api_post(page, csrf, "/api/products", {"name": "Oat Milk", "category": "Dairy", "stock": 50})

    page.goto("/retail/products")
    beans_row = product_row(page, "Espresso Beans")
    expect(beans_row.locator("td.stock")).to_have_text("25")
    expect(beans_row.locator("td.threshold")).to_have_text("20 (category)")
    expect(beans_row.locator("td.days-left")).to_have_text("2")  # 25 left at 280 per 28 days
    # 25 > 20, not low; but about 2 days left is within the forecast's 3: running out, not "OK".
    expect(beans_row.locator(".badge-warning")).to_have_text("Running out")

    expect(product_row(page, "Decaf").locator("td.threshold")).to_have_text("8")  # its own
    expect(product_row(page, "Decaf").locator("td.days-left")).to_have_text("")  # no sales
    expect(product_row(page, "Oat Milk").locator("td.threshold")).to_have_text("5 (shop)")
    # 2 days left is within the shop's forecast of 3: a "Soon" item in the bell, not a low one.
    item = open_bell(page).locator("li.bell-item")
    expect(item.locator(".bell-text")).to_have_text(["Running Low: Espresso Beans - about 2 days left (Coffee)"])
    expect(item.locator(".badge")).to_have_text(["Soon"])


# --- the categories page ----------------------------------------------------------------------

def test_owner_sets_a_category_threshold_and_the_bell_rings_for_its_product(page):
    csrf = sign_up(page, "Corner Shop", "owner@example.com")
    api_post(page, csrf, "/api/products", {"name": "Oat Milk", "category": "Dairy", "stock": 10})
    page.goto("/retail/categories")
    expect(badge(page)).to_be_hidden()
    threshold = page.get_by_label("Low-stock threshold of Dairy")
    expect(threshold).to_have_value("")

    threshold.fill("12")
    page.locator("table.categories tbody tr", has_text="Dairy").get_by_role("button", name="Save").click()
    message = "Low Stock Alert: Oat Milk - Only 10 remaining (Dairy)"
    expect(page).to_have_url(re.compile(r"/retail/categories$"))
    expect(page.locator(".flash")).to_have_text(["Saved category Dairy.", message])
    expect(page.get_by_label("Low-stock threshold of Dairy")).to_have_value("12")
    expect(badge(page)).to_have_text("1")
    expect(open_bell(page).locator("li.bell-item .bell-text")).to_have_text([message])

    page.reload()
    expect(page.get_by_label("Low-stock threshold of Dairy")).to_have_value("12")
    page.goto("/retail/products")
    expect(product_row(page, "Oat Milk").locator("td.threshold")).to_have_text("12 (category)")


# --- the bell ---------------------------------------------------------------------------------

def test_owner_mutes_a_product_from_the_bell(page):
    csrf = sign_up(page, "Corner Shop", "owner@example.com")
    product = make_low(page, csrf, "Oat Milk", "Dairy")
    page.goto("/retail/products")
    item = open_bell(page).locator("li.bell-item")
    expect(item).to_have_count(1)
    expect(item.locator(".bell-snooze button")).to_have_text(["Snooze 1 day", "1 week", "Mute"])

    with page.expect_response(lambda r: r.request.method == "POST"
                              and r.url.endswith(f"/api/products/{product['id']}/snooze")) as answer:
        item.get_by_role("button", name="Mute", exact=True).click()
    assert answer.value.status == 200
    expect(item.locator(".bell-snooze")).to_have_text("Muted")
    expect(item.locator(".bell-snooze button")).to_have_count(0)
    assert get_product(page, product["id"])["muted"] is True

    page.reload()
    expect(product_row(page, "Oat Milk").locator(".badge-snoozed")).to_have_text("Muted")


def test_owner_snoozes_a_week_from_the_bell(page):
    csrf = sign_up(page, "Corner Shop", "owner@example.com")
    product = make_low(page, csrf, "Oat Milk", "Dairy")
    page.goto("/retail/products")
    item = open_bell(page).locator("li.bell-item")

    item.get_by_role("button", name="1 week", exact=True).click()
    expect(item.locator(".bell-snooze")).to_have_text(re.compile(r"^Snoozed until \S"))
    body = get_product(page, product["id"])
    assert body["muted"] is False and body["snoozed_until"] is not None
    page.reload()
    expect(product_row(page, "Oat Milk").locator(".badge-snoozed")).to_have_text(snoozed_until(7, "UTC"))


def test_staff_bell_items_have_no_snooze_buttons(open_page):
    owner, csrf, staff = shop_with_staff(open_page)
    make_low(owner, csrf, "Oat Milk", "Dairy")
    log_in(staff, "staff@example.com")
    items = open_bell(staff).locator("li.bell-item")
    expect(items.locator(".bell-text")).to_have_text(["Low Stock Alert: Oat Milk - Only 2 remaining (Dairy)"])
    expect(items.locator(".bell-snooze")).to_have_count(0)
    expect(staff.locator("#bell-list button")).to_have_count(0)


# --- escaping ---------------------------------------------------------------------------------

def no_injection(page):
    expect(page.locator('img[src="x"]')).to_have_count(0)
    assert page.evaluate("typeof window.__xss") == "undefined"


def test_html_in_a_product_name_stays_text_in_the_snooze_badge_and_the_bell(page):
    csrf = sign_up(page, "Corner Shop", "owner@example.com")
    make_low(page, csrf, XSS_NAME, "Dairy")
    page.goto("/retail/products?stock=low")
    row = product_row(page, XSS_NAME)
    row.get_by_role("button", name=f"1 week: {XSS_NAME}").click()
    expect(page.locator(".flash")).to_have_text(f"Snoozed {XSS_NAME}.")
    expect(row.locator(".badge-snoozed")).to_have_text(re.compile(r"^Snoozed until \d{4}-\d\d-\d\d 00:00 UTC$"))
    no_injection(page)

    item = open_bell(page).locator("li.bell-item")
    expect(item.locator(".bell-text")).to_have_text(f"Low Stock Alert: {XSS_NAME} - Only 2 remaining (Dairy)")
    item.get_by_role("button", name="Mute", exact=True).click()
    expect(item.locator(".bell-snooze")).to_have_text("Muted")
    no_injection(page)

    page.reload()
    expect(row.locator(".badge-snoozed")).to_have_text("Muted")
    expect(row.get_by_role("link", name=XSS_NAME, exact=True)).to_be_visible()
    no_injection(page)
