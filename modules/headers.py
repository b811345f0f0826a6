"""Security headers on every answer: a strict Content-Security-Policy (no inline script or style,
no framing), nosniff, same-origin referrers, and no caching of signed-in pages or the API."""
from flask import request
from flask_login import current_user

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:",
    "frame-ancestors 'none'", "base-uri 'self'", "form-action 'self'",
])
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


def _signed_in():
    try:
        return current_user.is_authenticated
    except Exception:  # the database is down: whoever it is, nothing may be cached
        return True


def _add_headers(response):
    headers = response.headers
    for name, value in SECURITY_HEADERS.items():
        headers.setdefault(name, value)
    if request.path.startswith("/api/") or (request.endpoint != "static" and _signed_in()):
        # A shared computer's back button or a proxy must not show a shop's pages to the next person.
        headers["Cache-Control"] = "no-store"
    return response


def init_app(app):
    app.after_request(_add_headers)
