"""Locations in a real browser (Debian's chromium through Playwright) against the app served by
waitress, on SQLite and PostgreSQL: the header's switch scopes the products list (with and without
script), a transfer made from the form, and the one-click transfer from the bell, prefilled."""
import re

import pytest

pytest.register_assert_rewrite("tests.support.browser")

from tests.support.browser import expect  # noqa: E402
from tests.support.pages import api_post, open_bell, sign_up  # noqa: E402


def two_stores(page):
    """Downtown (the default) with 40 Milk and Uptown with 2 (low there: Downtown can spare 35);
    returns (csrf, downtown, uptown, milk)."""
    csrf = sign_up(page, "Corner Shop", "owner@example.com")
    [downtown] = [loc for loc in page.request.get("/api/locations").json()["items"] if loc["is_default"]]
    response = page.request.patch(f"/api/locations/{downtown['id']}", data={"name": "Downtown"},
                                  headers={"X-CSRFToken": csrf})
    assert response.ok, response.text()
    uptown = api_post(page, csrf, "/api/locations", {"name": "Uptown"})
    milk = api_post(page, csrf, "/api/products", {"name": "Milk", "stock": 40, "category": "Dairy"})
    api_post(page, csrf, "/api/products", {"name": "Bread", "stock": 9})
    api_post(page, csrf, f"/api/products/{milk['id']}/stock",
             {"delta": 2, "reason": "delivery", "location_id": uptown["id"]})
    return csrf, downtown, uptown, milk


def stock_by_place(page, product):
    return {e["location"]["name"]: e["stock"]
            for e in page.request.get(f"/api/products/{product['id']}").json()["locations"]}


def milk_stock(page):
    return page.locator('tr:has(td.name a:text-is("Milk")) td.stock')


def test_the_switch_scopes_the_products_list(page):
    csrf, downtown, uptown, milk = two_stores(page)
    page.goto("/retail/products")
    expect(milk_stock(page)).to_contain_text("42")
    expect(page.locator("tbody tr")).to_have_count(2)
    page.get_by_label("Location").select_option(label="Uptown")
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(r"/retail/products$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("at Uptown")
    expect(milk_stock(page)).to_have_text("2")
    expect(page.locator("tbody tr")).to_have_count(1)  # Uptown does not carry Bread
    expect(page.locator('[data-tab-count="low"]')).to_have_text("1")
    page.goto("/")  # the choice is remembered
    expect(page.get_by_label("Location")).to_have_value(str(uptown["id"]))
    page.get_by_label("Location").select_option(label="Whole shop")
    page.get_by_role("button", name="Show").click()
    page.goto("/retail/products")
    expect(milk_stock(page)).to_contain_text("42")


def test_a_transfer_made_from_the_form(page):
    csrf, downtown, uptown, milk = two_stores(page)
    page.goto("/retail/transfers")
    page.get_by_label("Product").select_option(label="Milk")
    page.get_by_label("From", exact=True).select_option(label="Downtown")
    page.get_by_label("To", exact=True).select_option(label="Uptown")
    page.get_by_label("Quantity").fill("10")
    page.get_by_label("Note").fill("Morning van")
    page.get_by_role("button", name="Transfer").click()
    expect(page.locator(".flash-success")).to_have_text("Moved 10 Milk from Downtown to Uptown.")
    row = page.locator("table.transfers tbody tr").first
    expect(row.locator("td.quantity")).to_have_text("10")
    expect(row).to_contain_text("Morning van")
    at = stock_by_place(page, milk)
    assert at == {"Downtown": 30, "Uptown": 12}
    # Asking for more than the source holds: the reason, and nothing moved.
    page.get_by_label("Product").select_option(label="Milk")
    page.get_by_label("From", exact=True).select_option(label="Uptown")
    page.get_by_label("To", exact=True).select_option(label="Downtown")
    page.get_by_label("Quantity").fill("13")
    page.get_by_role("button", name="Transfer").click()
    expect(page.locator("p.error")).to_contain_text("Uptown holds only 12 of Milk")
    at = stock_by_place(page, milk)
    assert at == {"Downtown": 30, "Uptown": 12}


def test_one_click_from_the_bell_opens_the_transfer_prefilled(page):
    csrf, downtown, uptown, milk = two_stores(page)
    page.goto("/retail/products")
    bell = open_bell(page)
    offer = bell.locator(".bell-transfer")
    expect(offer).to_contain_text("Downtown can spare 35")
    offer.get_by_role("link", name="Transfer 4 from Downtown").click()
    expect(page).to_have_url(re.compile(r"/retail/transfers\?"))
    expect(page.locator(".transfer-product")).to_contain_text("Milk")
    expect(page.get_by_label("From", exact=True)).to_have_value(str(downtown["id"]))
    expect(page.get_by_label("To", exact=True)).to_have_value(str(uptown["id"]))
    expect(page.get_by_label("Quantity")).to_have_value("4")
    page.get_by_role("button", name="Transfer").click()
    expect(page.locator(".flash-success")).to_have_text("Moved 4 Milk from Downtown to Uptown.")
    # Uptown is back above its threshold: the product page offers no transfer any more.
    page.goto(f"/retail/products/{milk['id']}/edit")
    expect(page.locator(f'tr[data-location-id="{uptown["id"]}"] td.stock')).to_have_text("6")
    expect(page.locator(".transfer-offer")).to_have_count(0)


def test_one_click_from_the_product_page(page):
    csrf, downtown, uptown, milk = two_stores(page)
    page.goto(f"/retail/products/{milk['id']}/edit")
    page.get_by_role("link", name="Transfer 4 from Downtown").click()
    expect(page.get_by_label("Quantity")).to_have_value("4")
    expect(page.get_by_label("To", exact=True)).to_have_value(str(uptown["id"]))
