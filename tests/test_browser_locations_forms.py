"""Issue 19's forms in a real browser (Debian's chromium through Playwright) against the app served
by waitress, on SQLite and PostgreSQL: a till's token bound to a store from the tokens page, and a
product's threshold at one store set from the product page, which rings the bell at once. Both at
phone width (390 px) without sideways scrolling."""
import re

import pytest

pytest.register_assert_rewrite("tests.support.browser")

from tests.support.browser import expect  # noqa: E402
from tests.support.pages import api_post, badge, sideways_scrolling, sign_up  # noqa: E402

PHONE = {"width": 390, "height": 844}


def two_stores(page):
    """Downtown (the default) with 40 Milk and Uptown with 8; returns (csrf, downtown, uptown, milk)."""
    csrf = sign_up(page, "Corner Shop", "owner@example.com")
    [downtown] = [loc for loc in page.request.get("/api/locations").json()["items"] if loc["is_default"]]
    response = page.request.patch(f"/api/locations/{downtown['id']}", data={"name": "Downtown"},
                                  headers={"X-CSRFToken": csrf})
    assert response.ok, response.text()
    uptown = api_post(page, csrf, "/api/locations", {"name": "Uptown"})
    milk = api_post(page, csrf, "/api/products", {"name": "Milk", "stock": 40, "category": "Dairy"})
    api_post(page, csrf, f"/api/products/{milk['id']}/stock",
             {"delta": 8, "reason": "delivery", "location_id": uptown["id"]})
    return csrf, downtown, uptown, milk


def test_a_token_bound_to_a_store_from_the_tokens_page(open_page):
    owner = open_page()
    owner.set_viewport_size(PHONE)
    csrf, downtown, uptown, milk = two_stores(owner)
    owner.goto("/settings/tokens")
    expect(owner.get_by_label("Bound to location")).to_have_value("")  # any location, unless chosen
    owner.get_by_label("Name", exact=True).fill("Uptown till")
    owner.locator('select[name="scope"]').select_option("stock")
    owner.get_by_label("Bound to location").select_option(label="Uptown")
    owner.get_by_role("button", name="Create token").click()
    shown = owner.get_by_label("Copy it now")
    expect(shown).to_have_value(re.compile(r"^sb_[A-Za-z0-9_-]{40,}$"))
    secret = shown.input_value()
    row = owner.locator("table.tokens tbody tr", has_text="Uptown till")
    expect(row.locator("td.place")).to_have_text("Uptown")
    assert sideways_scrolling(owner) is None

    till = open_page()  # a till: no cookie, the token only
    headers = {"Authorization": f"Bearer {secret}"}
    refused = till.request.post(f"/api/products/{milk['id']}/stock", headers=headers,
                                data={"delta": -1, "reason": "sale", "location_id": downtown["id"]})
    assert refused.status == 403
    sold = till.request.post(f"/api/products/{milk['id']}/stock", headers=headers, data={"delta": -1, "reason": "sale"})
    assert sold.ok, sold.text()
    at = {e["location"]["name"]: e["stock"]
          for e in owner.request.get(f"/api/products/{milk['id']}").json()["locations"]}
    assert at == {"Downtown": 40, "Uptown": 7}


def test_a_threshold_at_one_store_from_the_product_page_rings_the_bell(page):
    page.set_viewport_size(PHONE)
    csrf, downtown, uptown, milk = two_stores(page)
    page.goto(f"/retail/products/{milk['id']}/edit")
    expect(badge(page)).to_be_hidden()
    uptown_row = page.locator(f'tr[data-location-id="{uptown["id"]}"]')
    expect(uptown_row.locator("td.threshold")).to_contain_text("5 (shop)")
    assert sideways_scrolling(page) is None
    page.get_by_label("Threshold at Uptown").fill("10")
    page.get_by_role("button", name="Set Uptown's threshold").click()
    expect(page).to_have_url(re.compile(rf"/retail/products/{milk['id']}/edit$"))
    expect(page.locator(".flash-success")).to_have_text(
        "Milk at Uptown now alerts at 10 or below (the location's threshold).")
    expect(uptown_row.locator("td.threshold")).to_contain_text("10 (location)")
    expect(page.get_by_label("Threshold at Uptown")).to_have_value("10")
    expect(page.locator(f'tr[data-location-id="{downtown["id"]}"] td.threshold')).to_contain_text("5 (shop)")
    expect(badge(page)).to_have_text("1")  # Uptown's 8 is low against its own 10, at once
    assert sideways_scrolling(page) is None
    # Emptied: Uptown inherits the shop's 5 again.
    page.get_by_label("Threshold at Uptown").fill("")
    page.get_by_role("button", name="Set Uptown's threshold").click()
    expect(uptown_row.locator("td.threshold")).to_contain_text("5 (shop)")
