"""Accessibility: axe-core, injected into every page by the browser, finds no serious or critical
violation at desktop and phone sizes. axe-core comes from the npm registry at test-setup time
(`npm ci`: package.json pins it, package-lock.json its checksum), never from the repository;
AXE_CORE_JS points at another copy."""
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.browser import REQUIRE_BROWSER, skip_or_fail
from tests.support.pages import api_post, open_bell, sign_up

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


# The markup is the same whatever the database: SQLite only (each run is ~20 pages through axe).
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("size", SIZES)
def test_no_serious_axe_violation_on_any_page(open_page, axe_source, size):
    anonymous = open_page()
    anonymous.set_viewport_size(SIZES[size])
    problems = []
    for path in ("/login", "/register"):
        anonymous.goto(path)
        problems += serious_violations(anonymous, axe_source)

    owner = open_page()
    owner.set_viewport_size(SIZES[size])
    csrf = sign_up(owner, "Corner Shop", "owner@example.com")
    owner.goto("/")  # the first-run checklist
    problems += serious_violations(owner, axe_source)
    api_post(owner, csrf, "/api/notifications/settings", {"forecast_days": 30})
    milk = api_post(owner, csrf, "/api/products", {"name": "Oat Milk", "category": "Dairy", "stock": 10})
    api_post(owner, csrf, f"/api/products/{milk['id']}/stock", {"delta": -8, "reason": "sale"})
    api_post(owner, csrf, "/api/products", {"name": "Rye Bread", "category": "Bakery", "stock": 0})
    beans = api_post(owner, csrf, "/api/products", {"name": "Beans", "stock": 300})
    api_post(owner, csrf, f"/api/products/{beans['id']}/stock", {"delta": -200, "reason": "sale"})
    old = api_post(owner, csrf, "/api/products", {"name": "Old Jam", "stock": 4})
    owner.request.delete(f"/api/products/{old['id']}", headers={"X-CSRFToken": csrf})
    api_post(owner, csrf, "/api/users", {"email": "staff@example.com", "password": "correct-horse-42", "role": "staff"})
    api_post(owner, csrf, "/api/tokens", {"name": "Front till", "scope": "stock"})
    for path in ("/", "/retail/products", "/retail/products?stock=low&sort=stock&dir=desc",
                 f"/retail/products/{milk['id']}/edit", f"/retail/products/{milk['id']}/edit?days=90",
                 f"/retail/products/{old['id']}/edit", "/retail/products/new", "/retail/products/import",
                 "/retail/categories", "/notifications", "/notifications/deliveries", "/settings/notifications",
                 "/settings/tokens", "/settings/users", "/settings/account", "/retail/products/999999/edit"):
        owner.goto(path)
        problems += serious_violations(owner, axe_source)
    owner.goto("/retail/products")
    open_bell(owner)
    problems += serious_violations(owner, axe_source)
    assert problems == []
