"""What a user does in the browser tests, as plain helpers (the fixtures are in
tests/support/browser.py): sign up and sign in, speak to the JSON API in a page's context, and
find the bell and the products list on a page."""
import re

from sqlalchemy import func, select

from modules.auth import service as auth_service
from modules.extensions import db
from tests.support.browser import expect, server_of

PASSWORD = "correct-horse-42"
XSS_NAME = "<img src=x onerror=window.__xss=1>"


def sign_up(page, shop_name, email):
    """A shop and its owner, written with the app's own service (as `flask create-shop` does), then
    signed in through the JSON login API in this page's context; returns the CSRF token. The
    sign-up form has tests of its own (tests/test_browser.py)."""
    with server_of(page).app.app_context():
        try:
            auth_service.create_shop(shop_name, email, PASSWORD)
        finally:
            db.session.remove()
    response = page.request.post("/api/auth/login", data={"email": email, "password": PASSWORD})
    assert response.status == 200, response.text()
    return response.json()["csrf_token"]


def api_post(page, csrf, path, body):
    response = page.request.post(path, data=body, headers={"X-CSRFToken": csrf})
    assert response.ok, f"{path}: {response.status} {response.text()}"
    return response.json()


def log_in(page, email):
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/$"))  # the dashboard
    page.goto("/retail/products")


def shop_with_staff(open_page):
    """(owner page, owner's CSRF token, staff page): two users of one shop, each in their own browser."""
    owner = open_page()
    csrf = sign_up(owner, "Corner Shop", "owner@example.com")
    api_post(owner, csrf, "/api/users", {"email": "staff@example.com", "password": PASSWORD, "role": "staff"})
    return owner, csrf, open_page()


def make_low(page, csrf, name, category, stock=10, delta=-8):
    product = api_post(page, csrf, "/api/products", {"name": name, "category": category, "stock": stock})
    change = api_post(page, csrf, f"/api/products/{product['id']}/stock", {"delta": delta, "reason": "sale"})
    assert change["alert"] is not None, change
    return product


def return_to_tab(page):
    # Headless chromium never loses focus, so fire what the browser fires when the user comes back.
    page.evaluate("window.dispatchEvent(new Event('focus'))")


def badge(page):
    return page.locator("#bell-badge")


def open_bell(page):
    page.get_by_role("button", name="Notifications").click()
    expect(page.locator("#bell-menu")).to_be_visible()
    expect(page.locator("#bell-list")).not_to_contain_text("Loading")
    return page.locator("#bell-list")


def product_row(page, name):
    return page.locator("table.products tbody tr", has=page.get_by_role("link", name=name, exact=True))


def count_rows(app, model):
    with app.app_context():
        try:
            return db.session.scalar(select(func.count()).select_from(model))
        finally:
            db.session.remove()
