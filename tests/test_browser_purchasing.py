"""The reorder list and a purchase order's life in a real browser (Debian's chromium through
Playwright), at desktop and phone sizes, on SQLite and PostgreSQL: the list by supplier, "Draft an
order", send, receive in two parts; the strict CSP refuses nothing and axe-core finds no serious
violation (AXE_CORE_JS or node_modules/axe-core, as tests/test_browser_axe.py)."""
import os
import re
from pathlib import Path

import pytest

pytest.register_assert_rewrite("tests.support.browser")

from modules import create_app  # noqa: E402
from modules.extensions import db  # noqa: E402
from tests.support.app import base_config  # noqa: E402
from tests.support.browser import (  # noqa: E402
    LiveServer, expect, watch_console,
)

PASSWORD = "correct-horse-42"
SIZES = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
AXE = Path(os.environ.get("AXE_CORE_JS", Path(__file__).resolve().parent.parent / "node_modules" / "axe-core"
                          / "axe.min.js"))


@pytest.fixture
def live_server(browser, smtp_server, database_url):
    app = create_app(base_config(database_url, MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp_server.port,
                                 MAIL_DEFAULT_SENDER="alerts@stockbell.test"))
    server = LiveServer(app)
    server.start()
    yield server
    server.stop()
    with app.app_context():
        db.engine.dispose()


def axe_violations(page):
    if not AXE.is_file():
        return []  # reported by the test as skipped below
    page.evaluate(AXE.read_text(encoding="utf-8"))
    found = page.evaluate("axe.run(document, {resultTypes: ['violations']}).then(r => r.violations)")
    return [f"{page.url} {v['id']} ({v['impact']})" for v in found if v["impact"] in ("serious", "critical")]


def api(page, csrf, method, path, body=None):
    response = page.request.fetch(path, method=method, data=body, headers={"X-CSRFToken": csrf})
    assert response.ok, f"{path}: {response.status} {response.text()}"
    return response.json()


@pytest.mark.parametrize("size", SIZES)
def test_reorder_list_and_a_purchase_orders_life(browser, live_server, smtp_server, size):
    context = browser.new_context(base_url=live_server.url, viewport=SIZES[size])
    context.set_default_timeout(10_000)
    page = context.new_page()
    console = watch_console(page)
    try:
        registered = page.request.post("/api/auth/register", data={
            "shop_name": "Corner Shop", "email": "owner@corner.example", "password": PASSWORD})
        csrf = registered.json()["csrf_token"]
        supplier = api(page, csrf, "POST", "/api/suppliers", {"name": "Dairy Co", "email": "orders@dairy.example",
                                                              "lead_time_days": 7})
        product = api(page, csrf, "POST", "/api/products", {"name": "Milk", "stock": 325, "category": "Dairy",
                                                            "supplier_id": supplier["id"], "pack_size": 12})
        api(page, csrf, "POST", f"/api/products/{product['id']}/stock", {"delta": -280, "reason": "sale"})

        page.goto("/reorder")
        group = page.locator("section.reorder-group", has_text="Dairy Co")
        row = group.locator(f'tr[data-product-id="{product["id"]}"]')
        expect(row.locator("td.suggested")).to_contain_text("96")
        problems = axe_violations(page)
        group.get_by_role("button", name="Draft an order").click()
        expect(page.get_by_role("heading", name=re.compile("PO-1"))).to_be_visible()
        expect(page.get_by_label("Quantity of Milk")).to_have_value("96")
        problems += axe_violations(page)
        page.get_by_role("button", name="Send to Dairy Co").click()
        expect(page.get_by_text("on its way to orders@dairy.example")).to_be_visible()

        page.get_by_label("Received now of Milk").fill("50")
        page.get_by_role("button", name="Receive into stock").click()
        expect(page.get_by_text("is partly received")).to_be_visible()
        expect(page.get_by_label("Received now of Milk")).to_have_value("46")
        page.get_by_role("button", name="Receive into stock").click()
        expect(page.get_by_text("PO-1 is received")).to_be_visible()
        page.goto("/purchase-orders?status=received")
        expect(page.locator("table.orders")).to_contain_text("PO-1")
        problems += axe_violations(page)
        page.goto("/reorder")
        expect(page.get_by_text("Nothing to order")).to_be_visible()
        stock = api(page, csrf, "GET", f"/api/products/{product['id']}")["stock"]
        assert stock == 45 + 96
        width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1], width
        assert problems == []
        refused = [line for line in console if "Content Security Policy" in line]
        assert refused == []
    finally:
        context.close()
    if not AXE.is_file():
        pytest.skip(f"the flow passed; axe-core not found at {AXE} (set AXE_CORE_JS)")
