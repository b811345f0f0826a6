"""The Users page and my account in a real browser (Debian's chromium through Playwright), on SQLite
and PostgreSQL, at desktop (1280x800) and phone (390x844) sizes, without sideways scrolling:
an owner adds a person, resets their password and deactivates them; a person changes their own
password and signs out everywhere."""
import re

import pytest

from tests.support.browser import expect
from tests.support.pages import (
    PASSWORD,
    api_post,
    log_in,
    nav_link,
    sideways_scrolling,
    sign_up,
)

SIZES = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
NEW_PASSWORD = "a brand new secret 42"


def person_row(page, email):
    return page.locator(f'tr[data-email="{email}"]')


def can_log_in(page, email, password):
    response = page.request.post("/api/auth/login", data={"email": email, "password": password})
    return response.status == 200


@pytest.mark.parametrize("size", SIZES)
def test_owner_adds_a_person_resets_their_password_and_deactivates_them(open_page, size):
    owner = open_page()
    owner.set_viewport_size(SIZES[size])
    sign_up(owner, "Corner Shop", "owner@example.com")
    owner.goto("/")
    nav_link(owner, "Users").click()
    expect(owner).to_have_url(re.compile(r"/settings/users$"))
    assert sideways_scrolling(owner) is None

    form = owner.locator("section.add-person")
    form.get_by_label("Email").fill("sam@example.com")
    form.get_by_label("Role").select_option("staff")
    form.locator("form").evaluate("form => { form.noValidate = true; }")  # the server must refuse it on its own
    form.get_by_label("Initial password").fill("short")
    form.get_by_role("button", name="Add person").click()
    expect(owner.get_by_role("alert")).to_contain_text("Nothing was changed")
    expect(form.locator('[data-field="password"]')).to_contain_text("at least 10 characters")
    expect(person_row(owner, "sam@example.com")).to_have_count(0)
    form.get_by_label("Initial password").fill(PASSWORD)
    form.get_by_role("button", name="Add person").click()
    expect(owner.locator(".flash")).to_contain_text("sam@example.com is added as staff")
    row = person_row(owner, "sam@example.com")
    expect(row).to_contain_text("staff")
    expect(row).to_contain_text("Active")
    assert sideways_scrolling(owner) is None

    staff = open_page()
    staff.set_viewport_size(SIZES[size])
    log_in(staff, "sam@example.com")
    staff.goto("/settings/users")
    expect(staff.get_by_text("Only owners and managers can do this.")).to_be_visible()
    expect(staff.get_by_role("navigation", name="Main").get_by_role("link", name="Users")).to_have_count(0)

    row.get_by_text("Reset password").click()
    row.get_by_label("New password for sam@example.com").fill(NEW_PASSWORD)
    row.get_by_role("button", name="Set this password").click()
    expect(owner.locator(".flash")).to_contain_text("sam@example.com has a new password")
    assert sideways_scrolling(owner) is None
    staff.goto("/settings/account")
    expect(staff).to_have_url(re.compile(r"/login"))  # the reset ended their session
    assert can_log_in(open_page(), "sam@example.com", NEW_PASSWORD)

    owner.once("dialog", lambda dialog: dialog.accept())
    person_row(owner, "sam@example.com").get_by_role("button", name="Deactivate").click()
    expect(owner.locator(".flash")).to_contain_text("sam@example.com is deactivated")
    expect(person_row(owner, "sam@example.com")).to_contain_text("Deactivated")
    expect(person_row(owner, "owner@example.com")).to_contain_text("(you)")
    expect(person_row(owner, "owner@example.com").get_by_role("button")).to_have_count(0)
    assert sideways_scrolling(owner) is None


@pytest.mark.parametrize("size", SIZES)
def test_a_person_changes_their_password_and_signs_out_everywhere(open_page, size):
    owner = open_page()
    csrf = sign_up(owner, "Corner Shop", "owner@example.com")
    api_post(owner, csrf, "/api/users", {"email": "staff@example.com", "password": PASSWORD, "role": "staff"})
    elsewhere = open_page()
    log_in(elsewhere, "staff@example.com")
    staff = open_page()
    staff.set_viewport_size(SIZES[size])
    log_in(staff, "staff@example.com")
    nav_link(staff, "Account").click()
    expect(staff).to_have_url(re.compile(r"/settings/account$"))
    expect(staff.get_by_role("link", name="My alert preferences")).to_have_attribute("href", "/settings/preferences")
    assert sideways_scrolling(staff) is None

    staff.get_by_label("Current password").fill("not my password 1")
    staff.get_by_label("New password").fill(NEW_PASSWORD)
    staff.get_by_role("button", name="Change my password").click()
    expect(staff.locator('[data-field="current_password"]')).to_contain_text("not your current password")
    staff.get_by_label("Current password").fill(PASSWORD)
    staff.get_by_label("New password").fill(NEW_PASSWORD)
    staff.get_by_role("button", name="Change my password").click()
    expect(staff.locator(".flash")).to_contain_text("Your password is changed")
    assert sideways_scrolling(staff) is None
    elsewhere.goto("/settings/account")
    expect(elsewhere).to_have_url(re.compile(r"/login"))  # the other session ended
    staff.goto("/retail/products")
    expect(staff).to_have_url(re.compile(r"/retail/products$"))  # this one stays

    second = open_page()
    second.goto("/login")
    second.get_by_label("Email").fill("staff@example.com")
    second.get_by_label("Password").fill(NEW_PASSWORD)
    second.get_by_role("button", name="Log in").click()
    expect(second).to_have_url(re.compile(r"/$"))
    staff.goto("/settings/account")
    staff.once("dialog", lambda dialog: dialog.accept())
    staff.get_by_role("button", name="Sign out everywhere").click()
    expect(staff).to_have_url(re.compile(r"/login$"))
    expect(staff.locator(".flash")).to_contain_text("You are signed out everywhere")
    assert sideways_scrolling(staff) is None
    second.goto("/settings/account")
    expect(second).to_have_url(re.compile(r"/login"))
