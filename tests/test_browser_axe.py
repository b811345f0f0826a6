"""Accessibility: axe-core, injected into every page by the browser, finds no serious or critical
violation at desktop and phone sizes, in a busy shop (two-digit badges, long names, every
delivery status, a full audit log), and no page scrolls sideways. axe-core comes from the npm
registry at test-setup time (`npm ci`: package.json pins it, package-lock.json its checksum),
never from the repository; AXE_CORE_JS points at another copy."""
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.browser import REQUIRE_BROWSER, skip_or_fail
from modules.delivery.channels.email import unsubscribe_url
from tests.support.browser import expect, server_of
from tests.support.pages import api_post, badge, busy_shop, open_bell, sideways_scrolling, sign_up

ROOT = Path(__file__).resolve().parent.parent
AXE = Path(os.environ.get("AXE_CORE_JS", ROOT / "node_modules" / "axe-core" / "axe.min.js"))
SIZES = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
# Beyond axe's defaults: a control's name must contain its visible text (the bell and its count).
RUN = "{resultTypes: ['violations'], rules: {'label-content-name-mismatch': {enabled: true}}}"


def install_axe():
    """`npm ci` when axe-core is not installed yet and npm is here; returns why it failed, or None."""
    if "AXE_CORE_JS" in os.environ or not shutil.which("npm"):
        return "npm not found"
    try:
        done = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=ROOT, capture_output=True, text=True,
                              timeout=300)
    except subprocess.TimeoutExpired:
        return "npm ci timed out"
    return None if done.returncode == 0 else f"npm ci failed: {done.stderr.strip()[-300:]}"


@pytest.fixture(scope="module")
def axe_source():
    if not AXE.is_file():
        install_axe()
    if not AXE.is_file():
        reason = f"no axe-core at {AXE} (run `npm ci` in the repository, or set AXE_CORE_JS)"
        if REQUIRE_BROWSER:
            pytest.fail(f"REQUIRE_BROWSER=1 but {reason}", pytrace=False)
        skip_or_fail(reason)
    return AXE.read_text(encoding="utf-8")


def serious_violations(page, axe_source):
    # evaluate(), not a <script> tag: the page's Content-Security-Policy does not apply to it.
    page.evaluate(axe_source)
    found = page.evaluate(f"axe.run(document, {RUN}).then(r => r.violations)")
    return [f"{page.url} {v['id']} ({v['impact']}): {[n['target'] for n in v['nodes'][:3]]}"
            for v in found if v["impact"] in ("serious", "critical")]


def problems_on(page, axe_source):
    """axe's serious violations and, whatever the size, sideways scrolling."""
    return serious_violations(page, axe_source) + [p for p in [sideways_scrolling(page)] if p]


# The markup is the same whatever the database: SQLite only (each run is ~30 pages through axe).
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("size", SIZES)
def test_no_serious_axe_violation_nor_sideways_scrolling_on_any_page(open_page, axe_source, size):
    anonymous = open_page()
    anonymous.set_viewport_size(SIZES[size])
    problems = []
    for path in ("/login", "/register"):
        anonymous.goto(path)
        problems += problems_on(anonymous, axe_source)

    owner = open_page()
    owner.set_viewport_size(SIZES[size])
    csrf = sign_up(owner, "Corner Shop", "owner@example.com")
    owner.goto("/")  # the first-run checklist
    problems += problems_on(owner, axe_source)
    shop = busy_shop(owner, csrf)
    milk, out = shop["products"][1], shop["products"][0]
    old = api_post(owner, csrf, "/api/products", {"name": "Old Jam", "stock": 4})
    owner.request.delete(f"/api/products/{old['id']}", headers={"X-CSRFToken": csrf})
    with server_of(owner).app.app_context():
        unsubscribe = unsubscribe_url("", 1, "owner@example.com")
    for path in ("/", "/retail/products", "/retail/products?stock=low&sort=stock&dir=desc",
                 f"/retail/products/{milk['id']}/edit", f"/retail/products/{milk['id']}/edit?days=90",
                 f"/retail/products/{out['id']}/edit", f"/retail/products/{old['id']}/edit", "/retail/products/new",
                 "/retail/products/import", "/retail/categories", "/reorder", "/purchase-orders",
                 f"/purchase-orders/{shop['order']['id']}", "/suppliers", f"/suppliers/{shop['supplier']['id']}",
                 "/notifications", "/notifications/deliveries", "/settings/notifications", "/settings/preferences",
                 "/settings/tokens", "/settings/users", "/settings/account", "/settings/audit",
                 "/retail/products/999999/edit", unsubscribe):
        owner.goto(path)
        problems += problems_on(owner, axe_source)
    owner.goto("/retail/products")
    expect(badge(owner)).to_have_text(re.compile(r"^\d\d$"))  # two digits, where the contrast was 4.44:1
    open_bell(owner)
    problems += problems_on(owner, axe_source)
    owner.keyboard.press("Escape")
    menu = owner.get_by_role("button", name="Menu" if size == "phone" else "Settings", exact=True)
    menu.click()
    expect(menu).to_have_attribute("aria-expanded", "true")
    problems += problems_on(owner, axe_source)
    problems += locations_problems(owner, csrf, axe_source)
    assert problems == []


def locations_problems(owner, csrf, axe_source):
    """The same shop with two more places of long names: the header's switch, stock by place,
    the locations page, the transfer form (empty and filled in from the bell), one place's view."""
    store = api_post(owner, csrf, "/api/locations", {"name": "Riverside Market Hall (the big corner store)"})
    api_post(owner, csrf, "/api/locations", {"name": "Back stock room behind the bakery", "kind": "stockroom"})
    [beans] = owner.request.get("/api/products?q=Beans").json()["items"]
    [main] = [loc for loc in owner.request.get("/api/locations").json()["items"] if loc["is_default"]]
    api_post(owner, csrf, "/api/transfers", {"product_id": beans["id"], "from_location_id": main["id"],
                                             "to_location_id": store["id"], "quantity": 2, "note": "First delivery"})
    problems = []
    for path in ("/", "/notifications", "/retail/products", f"/retail/products/{beans['id']}/edit", "/retail/locations",
                 "/settings/tokens", "/retail/transfers", f"/retail/transfers?product_id={beans['id']}&from_location_id={main['id']}"
                 f"&to_location_id={store['id']}&quantity=4"):
        owner.goto(path)
        problems += problems_on(owner, axe_source)
    owner.goto("/retail/products")
    bell = open_bell(owner)
    expect(bell.locator(".transfer-link").first).to_be_visible()
    problems += problems_on(owner, axe_source)
    owner.keyboard.press("Escape")
    owner.get_by_label("Location").select_option(str(store["id"]))
    owner.get_by_role("button", name="Show").click()
    expect(owner.get_by_role("heading", level=1)).to_contain_text("Riverside")
    problems += problems_on(owner, axe_source)
    for path in ("/", f"/retail/products/{beans['id']}/edit"):
        owner.goto(path)
        problems += problems_on(owner, axe_source)
    return problems
