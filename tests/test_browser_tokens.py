"""The API tokens page in a real browser (Debian's chromium through Playwright), on SQLite and
PostgreSQL, at desktop size: an owner creates a token, sees it once, a till uses it, and revoking
it (asked first, by static/js/confirm.js) stops it at once."""
import re

from tests.support.browser import expect
from tests.support.pages import nav_link, sign_up

DESKTOP = {"width": 1280, "height": 800}


def till_status(till, secret):
    """What a till (a browser context with no cookie) gets for GET /api/products with the token."""
    return till.request.get("/api/products", headers={"Authorization": f"Bearer {secret}"}).status


def test_owner_creates_a_token_sees_it_once_and_revokes_it(open_page):
    owner = open_page()
    owner.set_viewport_size(DESKTOP)
    sign_up(owner, "Corner Shop", "owner@example.com")
    owner.goto("/")
    nav_link(owner, "API tokens").click()
    expect(owner).to_have_url(re.compile(r"/settings/tokens$"))
    expect(owner.get_by_text("No tokens yet")).to_be_visible()

    owner.get_by_label("Name", exact=True).fill("Front till")
    owner.locator('select[name="scope"]').select_option("stock")
    owner.get_by_role("button", name="Create token").click()
    shown = owner.get_by_label("Copy it now")
    expect(shown).to_have_value(re.compile(r"^sb_[A-Za-z0-9_-]{40,}$"))
    secret = shown.input_value()
    row = owner.locator("table.tokens tbody tr", has_text="Front till")
    expect(row.locator("td").nth(1)).to_have_text("stock")
    expect(row.locator("td").nth(2)).to_have_text(secret[:10] + "…")
    expect(row.locator("td").nth(4)).to_have_text("never")

    till = open_page()
    assert till_status(till, secret) == 200

    owner.goto("/settings/tokens")  # shown once: not on the next visit
    expect(owner.get_by_label("Copy it now")).to_have_count(0)
    assert secret not in owner.content()
    expect(row.locator("td").nth(4)).not_to_have_text("never")  # last used, in shop time

    answers = iter([False, True])
    owner.on("dialog", lambda dialog: dialog.accept() if next(answers) else dialog.dismiss())
    owner.get_by_role("button", name="Revoke Front till").click()
    expect(owner.get_by_role("button", name="Revoke Front till")).to_be_visible()
    assert till_status(till, secret) == 200  # dismissed: nothing revoked
    owner.get_by_role("button", name="Revoke Front till").click()
    expect(owner.locator(".flash")).to_have_text("Revoked the token Front till.")
    expect(row.locator("td").nth(5)).to_contain_text("Revoked")
    expect(owner.get_by_role("button", name="Revoke Front till")).to_have_count(0)
    assert till_status(till, secret) == 401
