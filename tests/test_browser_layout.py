"""The header on every page: one line on a laptop (1366 px), the Settings group a menu of its own;
on a phone the brand, a Menu button and the bell, the menu collapsed behind the button, which the
keyboard opens and closes (aria-expanded says which); without script every link is still there."""
import re

import pytest

from tests.support.browser import expect
from tests.support.pages import PASSWORD, api_post, busy_shop, nav_link, sideways_scrolling, sign_up

LAPTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}


def header_rows(page):
    """How many lines the header's items sit on (their vertical centres, to the pixel), measured once
    the page and its stylesheet have loaded (a URL can match before the new document is laid out)."""
    page.wait_for_load_state("load")
    return page.evaluate("""() => new Set([...document.querySelectorAll(
        '.topbar > *, .nav-list > li, .session > *')].filter(e => e.offsetParent !== null)
        .map(e => { const r = e.getBoundingClientRect(); return Math.round(r.top + r.height / 2); })).size""")


def header_height(page):
    return page.evaluate("document.querySelector('.topbar').getBoundingClientRect().height")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_header_is_one_line_at_1366_with_settings_a_menu_the_keyboard_opens(open_page):
    owner = open_page()  # an owner sees every link there is
    owner.set_viewport_size(LAPTOP)
    csrf = sign_up(owner, "Corner Shop", "owner@example.com")
    busy_shop(owner, csrf)
    owner.goto("/retail/products")
    expect(owner.locator("#bell-badge")).to_have_text(re.compile(r"^\d\d$"))
    assert header_rows(owner) == 1 and header_height(owner) < 60
    expect(owner.get_by_role("button", name="Menu")).to_be_hidden()
    expect(owner.get_by_role("link", name="Dashboard")).to_be_visible()

    settings = owner.get_by_role("button", name="Settings", exact=True)
    expect(settings).to_have_attribute("aria-expanded", "false")
    expect(owner.get_by_role("link", name="Users")).to_be_hidden()
    settings.focus()
    owner.keyboard.press("Enter")
    expect(settings).to_have_attribute("aria-expanded", "true")
    owner.keyboard.press("Tab")  # the shop's name above it is no link: straight to the first link
    expect(owner.get_by_role("link", name="Notification settings")).to_be_focused()
    owner.keyboard.press("Escape")
    expect(settings).to_have_attribute("aria-expanded", "false")
    expect(settings).to_be_focused()
    expect(owner.get_by_role("link", name="Users")).to_be_hidden()

    nav_link(owner, "Audit").click()
    expect(owner).to_have_url(re.compile(r"/settings/audit$"))
    expect(owner.get_by_role("heading", name="Audit log")).to_be_visible()
    assert header_rows(owner) == 1


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_on_a_phone_the_menu_is_collapsed_behind_a_button_the_keyboard_opens(open_page):
    owner = open_page()
    owner.set_viewport_size(PHONE)
    sign_up(owner, "Corner Shop", "owner@example.com")
    owner.goto("/retail/products")
    assert header_height(owner) < 0.08 * PHONE["height"]  # it was 26% of the screen
    menu = owner.get_by_role("button", name="Menu", exact=True)
    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(owner.get_by_role("link", name="Dashboard")).to_be_hidden()
    expect(owner.get_by_role("button", name="Log out")).to_be_hidden()
    expect(owner.get_by_role("button", name="Notifications")).to_be_visible()  # the bell stays in sight

    owner.get_by_role("link", name="Stockbell").focus()
    owner.keyboard.press("Tab")
    expect(menu).to_be_focused()
    owner.keyboard.press("Enter")
    expect(menu).to_have_attribute("aria-expanded", "true")
    for name in ("Dashboard", "Categories", "Deliveries", "Notification settings", "Users", "Audit", "Account"):
        expect(owner.get_by_role("navigation", name="Main").get_by_role("link", name=name, exact=True)).to_be_visible()
    expect(owner.get_by_role("button", name="Log out")).to_be_visible()
    owner.keyboard.press("Tab")
    expect(owner.get_by_role("link", name="Dashboard")).to_be_focused()  # the menu follows its button
    assert sideways_scrolling(owner) is None
    owner.keyboard.press("Escape")
    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(menu).to_be_focused()
    owner.keyboard.press(" ")
    expect(menu).to_have_attribute("aria-expanded", "true")
    owner.locator("main h1").click()  # a tap elsewhere closes it
    expect(menu).to_have_attribute("aria-expanded", "false")

    nav_link(owner, "Categories").click()
    expect(owner).to_have_url(re.compile(r"/retail/categories$"))
    expect(menu).to_have_attribute("aria-expanded", "false")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_without_script_the_phone_menu_is_open_and_every_link_works(open_page, browser, live_server):
    owner = open_page()
    csrf = sign_up(owner, "Corner Shop", "owner@example.com")
    api_post(owner, csrf, "/api/users", {"email": "sam@example.com", "password": PASSWORD, "role": "manager"})
    context = browser.new_context(base_url=live_server.url, viewport=PHONE, java_script_enabled=False)
    try:
        page = context.new_page()
        assert page.request.post("/api/auth/login", data={"email": "sam@example.com", "password": PASSWORD}).ok
        page.goto("/")
        expect(page.get_by_role("button", name="Menu")).to_be_hidden()  # a button that could do nothing
        nav = page.get_by_role("navigation", name="Main")
        for name in ("Dashboard", "Reorder", "Notification settings", "Users", "API tokens", "Account"):
            expect(nav.get_by_role("link", name=name, exact=True)).to_be_visible()
        expect(nav.get_by_role("link", name="Audit")).to_have_count(0)  # the owner's only
        assert sideways_scrolling(page) is None
        nav.get_by_role("link", name="Users").click()
        expect(page).to_have_url(re.compile(r"/settings/users$"))
    finally:
        context.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_with_the_location_switch_the_header_is_still_one_line_at_1366(open_page):
    owner = open_page()
    owner.set_viewport_size(LAPTOP)
    csrf = sign_up(owner, "Corner Shop", "owner@example.com")
    busy_shop(owner, csrf)
    api_post(owner, csrf, "/api/locations", {"name": "Riverside Market Hall (the big corner store)"})
    owner.goto("/retail/products")
    expect(owner.get_by_label("Location")).to_be_visible()
    assert header_rows(owner) == 1 and header_height(owner) < 60
