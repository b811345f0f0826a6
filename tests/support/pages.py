"""What a user does in the browser tests, as plain helpers (the fixtures are in
tests/support/browser.py): sign up and sign in, speak to the JSON API in a page's context, find
the bell, the main menu and the products list on a page, fill a shop as a busy one is, and
measure sideways scrolling."""
import re
from datetime import timedelta

from sqlalchemy import func, select

from modules.auth import service as auth_service
from modules.auth.models import User
from modules.delivery.models import Delivery
from modules.extensions import db
from modules.timeutil import utcnow
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


def nav_link(page, name):
    """A link of the main menu, its menus opened first when they are collapsed (a narrow screen,
    the Settings group on a wide one), as a user would."""
    toggle = page.get_by_role("button", name="Menu", exact=True)
    if toggle.is_visible() and toggle.get_attribute("aria-expanded") != "true":
        toggle.click()
    nav = page.get_by_role("navigation", name="Main")
    group = nav.get_by_role("button", name="Settings", exact=True)
    link = nav.get_by_role("link", name=name, exact=True)
    if not link.is_visible() and group.is_visible() and group.get_attribute("aria-expanded") != "true":
        group.click()
    return link


def sideways_scrolling(page):
    """None, or what scrolls sideways: the document wider than the viewport."""
    page.wait_for_load_state("load")  # measured with the stylesheet applied, not before it arrives
    width, viewport = page.evaluate("[document.scrollingElement.scrollWidth, window.innerWidth]")
    return f"{page.url}: scrollWidth {width} > viewport {viewport}" if width > viewport else None


LONG_NAME = "Organic Unsweetened Oat Drink Barista Edition 1 L"


def busy_shop(page, csrf, products=12):
    """A shop some weeks in, as its pages must hold up on a phone: `products` long-named products
    low or out (every one an unread notification: two-digit badges), a supplier with a drafted
    order, a staff member with a long address, a token, changed thresholds and a snooze (the
    audit log), and deliveries of every status with long errors. Returns {"products": [...],
    "supplier": ..., "order": ...}."""
    api_post(page, csrf, "/api/notifications/settings", {"forecast_days": 30})
    supplier = api_post(page, csrf, "/api/suppliers", {
        "name": "Northern Dairy and Plant Drinks Wholesale Cooperative", "lead_time_days": 7,
        "email": "purchasing.department@northern-dairy-wholesale-cooperative.example"})
    made = []
    for n in range(products):
        product = api_post(page, csrf, "/api/products", {
            "name": f"{LONG_NAME} no. {n + 1}", "sku": f"OAT-BARISTA-1L-{n + 1:05d}", "stock": 40,
            "category": "Dairy alternatives and plant-based drinks", "supplier_id": supplier["id"]})
        change = api_post(page, csrf, f"/api/products/{product['id']}/stock",
                          {"delta": -40 if n % 3 == 0 else -37, "reason": "sale"})
        assert change["alert"] is not None, change
        made.append(change["product"])
    api_post(page, csrf, "/api/products", {"name": "Beans", "stock": 300})
    response = page.request.patch(f"/api/products/{made[1]['id']}", data={"low_stock_threshold": 4},
                                  headers={"X-CSRFToken": csrf})
    assert response.ok, response.text()
    api_post(page, csrf, f"/api/products/{made[2]['id']}/snooze", {"days": 7})
    api_post(page, csrf, "/api/users", {"email": "weekend.staff.member.with.a.long.address@cornershop.example",
                                        "password": PASSWORD, "role": "staff"})
    api_post(page, csrf, "/api/tokens", {"name": "Front till by the door (the old one)", "scope": "stock"})
    order = api_post(page, csrf, "/api/purchase-orders/from-reorder", {"supplier_id": supplier["id"]})
    _deliveries_of_every_status(page)
    return {"products": made, "supplier": supplier, "order": order}


def _deliveries_of_every_status(page):
    """Outbox rows as weeks of sending leave them (written directly: no channel is configured)."""
    email = page.request.get("/api/auth/me").json()["user"]["email"]
    error = ("The mail server refused the address (SMTP 550: 5.1.1 The email account that you tried to reach "
             "does not exist; please try double-checking the recipient's email address for typos)")
    with server_of(page).app.app_context():
        try:
            client_id = db.session.scalar(select(User.client_id).where(User.email == email))
            now = utcnow()
            db.session.add_all([
                Delivery(client_id=client_id, dedupe_key=f"alert:busy-{n}", channel=channel,
                         recipient=recipient, subject=f"Low stock: {LONG_NAME} no. {n} at Corner Shop",
                         status=status, attempts=n % 3 + 1, last_error=error if status in ("failed", "dead") else None,
                         created_at=now - timedelta(hours=n), next_attempt_at=now + timedelta(minutes=30),
                         sent_at=now - timedelta(hours=n) if status in ("sent", "delivered") else None,
                         delivered_at=now if status == "delivered" else None)
                for n, (channel, recipient, status) in enumerate([
                    ("email", "purchasing.department@northern-dairy-wholesale-cooperative.example", "sent"),
                    ("email", "no-such-person@cornershop.example", "dead"),
                    ("sms", "+447700900123", "delivered"),
                    ("email", "owner@cornershop.example", "failed"),
                    ("whatsapp", "+447700900456", "pending")])])
            db.session.commit()
        finally:
            db.session.remove()
