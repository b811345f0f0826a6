"""Security headers: a strict CSP with no inline script or style in any template, no framing,
nosniff, same-origin referrers, no caching of signed-in pages and the API, Secure cookies on https."""
import re
from pathlib import Path

import pytest

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
STRICT = {"default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:",
          "frame-ancestors 'none'", "base-uri 'self'", "form-action 'self'"}


def csp(response):
    return {part.strip() for part in response.headers["Content-Security-Policy"].split(";")}


def test_pages_send_a_strict_csp_and_cannot_be_framed(client):
    for path in ("/login", "/register", "/api/auth/csrf", "/health", "/no-such-page"):
        response = client.get(path)
        assert csp(response) == STRICT, path
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"


def test_signed_in_pages_and_the_api_are_not_cached(shop):
    for path in ("/retail/products", "/notifications", "/api/products", "/api/notifications/unread-count"):
        assert shop.get(path).headers["Cache-Control"] == "no-store", path
    static = shop.get("/static/css/app.css")
    assert "no-store" not in static.headers.get("Cache-Control", "")
    static.close()


def test_anonymous_api_answers_are_not_cached(client):
    assert client.get("/api/products").headers["Cache-Control"] == "no-store"


# Pages only: the mail templates under delivery/messages/ are read by mail clients, which take
# inline styles and no style sheets, and are never served under the CSP.
PAGES = sorted(str(p.relative_to(TEMPLATES)) for p in TEMPLATES.rglob("*.html")
               if not p.relative_to(TEMPLATES).as_posix().startswith("delivery/messages/"))


@pytest.mark.parametrize("template", PAGES)
def test_templates_have_no_inline_script_or_style(template):
    html = (TEMPLATES / template).read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline <script>"
    assert "<style" not in html, "<style> block"
    assert not re.search(r"\sstyle\s*=", html), "style= attribute"
    assert not re.search(r"\son[a-z]+\s*=", html), "inline event handler"
    assert "javascript:" not in html


@pytest.mark.parametrize("app_config", [{"PUBLIC_URL": "https://shop.example.com"}])
def test_cookies_are_secure_when_public_url_is_https(app, client, shop):
    assert app.config["SESSION_COOKIE_SECURE"] is True and app.config["REMEMBER_COOKIE_SECURE"] is True
    response = client.post("/api/auth/login", json={"email": shop.email, "password": shop.password,
                                                    "remember": True})
    cookies = response.headers.getlist("Set-Cookie")
    # The session, the remember-me cookie and (a first sign-in from this browser) the device cookie.
    assert {c.split("=")[0] for c in cookies} == {"session", "remember_token", "stockbell_device"}, cookies
    assert all("Secure" in c for c in cookies), cookies


def test_cookies_are_not_secure_on_plain_http(app, client, shop):
    response = client.post("/api/auth/login", json={"email": shop.email, "password": shop.password})
    assert "Secure" not in response.headers["Set-Cookie"]


def test_session_cookie_secure_setting_overrides_public_url(monkeypatch, database_url):
    from modules import create_app
    from modules.config import load_config

    monkeypatch.setenv("SESSION_COOKIE_SECURE", "0")
    monkeypatch.setenv("PUBLIC_URL", "https://shop.example.com")
    assert load_config()["SESSION_COOKIE_SECURE"] is False
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "x"})
    assert app.config["SESSION_COOKIE_SECURE"] is False and app.config["REMEMBER_COOKIE_SECURE"] is False
