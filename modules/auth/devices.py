"""Device cookies (OWASP's scheme against lock-outs): a browser that signed in to an account (a
sign-in or a sign-up) carries a signed cookie naming that account and a random nonce, kept across
logouts. The throttle lets the right password through from such a browser whatever strangers do
elsewhere, and counts that browser's own failures against its nonce only. One cookie per browser
holds the few accounts signed in from it (a shop's shared till); the account is named by an HMAC
of its email, never the email itself."""
import hashlib
import hmac
import secrets

from flask import current_app, g, request
from itsdangerous import BadData, URLSafeTimedSerializer

from . import bp

COOKIE = "stockbell_device"
MAX_AGE = 365 * 24 * 3600  # a year: the cookie is renewed at every sign-in
MAX_ACCOUNTS = 8  # accounts remembered per browser, the most recent first
NONCE_LENGTH = 22  # secrets.token_urlsafe(16)


def _serializer():
    return URLSafeTimedSerializer(current_app.secret_key, salt="stockbell device cookie")


def _tag(email):
    key = current_app.secret_key
    key = key.encode() if isinstance(key, str) else key
    return hmac.new(key, b"device:" + email.strip().lower().encode(), hashlib.sha256).hexdigest()[:32]


def _entries():
    """[(account tag, nonce), ...] of this browser's device cookie; [] when absent, forged or too old."""
    raw = request.cookies.get(COOKIE)
    if not raw or len(raw) > 4096:
        return []
    try:
        data = _serializer().loads(raw, max_age=MAX_AGE)
    except BadData:
        return []
    if not isinstance(data, list):
        return []
    return [(e[0], e[1]) for e in data[:MAX_ACCOUNTS] if isinstance(e, list) and len(e) == 2
            and isinstance(e[0], str) and isinstance(e[1], str) and len(e[1]) == NONCE_LENGTH]


def nonce_for(email):
    """The nonce of this browser's device cookie for the account `email`, or None."""
    tag = _tag(email)
    return next((nonce for t, nonce in _entries() if hmac.compare_digest(t, tag)), None)


def remember(user):
    """This answer gives the browser a device cookie for `user` (set after the view)."""
    g.device_email = user.email


@bp.after_app_request
def _set_device_cookie(response):
    email = g.pop("device_email", None)
    if email is None:
        return response
    tag = _tag(email)
    entries = _entries()
    nonce = next((n for t, n in entries if t == tag), None) or secrets.token_urlsafe(16)
    kept = [[tag, nonce]] + [[t, n] for t, n in entries if t != tag][:MAX_ACCOUNTS - 1]
    config = current_app.config
    response.set_cookie(COOKIE, _serializer().dumps(kept), max_age=MAX_AGE, httponly=True, samesite="Lax",
                        secure=bool(config.get("SESSION_COOKIE_SECURE")), path="/")
    return response
