"""Requests signed in with an API token: under /api/ only, with `Authorization: Bearer` and no
cookie. Such a request skips the CSRF check (a browser cannot send that header cross-site), is
signed in for itself alone (no session is written), and reaches only what both its scope and its
creator's current role allow; a token whose creator is deactivated is refused (401)."""
from flask import current_app, g, request

from ..errors import ApiError
from ..extensions import csrf, login_manager
from . import tokens


def bearer_secret():
    """The token of a token request, or None for every other request (pages, cookies, no header)."""
    if not request.path.startswith("/api/"):
        return None
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    config = current_app.config
    if config.get("SESSION_COOKIE_NAME", "session") in request.cookies or \
            config.get("REMEMBER_COOKIE_NAME", "remember_token") in request.cookies:
        return None  # a browser's session: its own sign-in and its CSRF check apply
    return secret.strip()


def _sign_in_or_check_csrf():
    secret = bearer_secret()
    if secret is None:
        if current_app.config.get("WTF_CSRF_ENABLED", True):
            csrf.protect(apply_exemptions=True)
        return
    if request.routing_exception is not None:  # no such route: routing answers (404, 405)
        return
    token = tokens.find_token(secret)
    if token is None:
        raise ApiError(401, "This API token is unknown or revoked.")
    creator = tokens.creator(token)
    if creator is None:
        raise ApiError(401, "This API token's creator is no longer active in the shop.")
    if not tokens.allows(token.scope, creator.role, request.method, request.url_rule.rule, request.endpoint):
        raise ApiError(403, "This API token cannot do this" + (
            "; a read token only reads products, categories and alerts." if token.scope == "read" else "."))
    tokens.touch(token)
    g.api_token = tokens.TokenPrincipal(token, creator)


@login_manager.request_loader
def _token_principal(_request):
    """Flask-Login asks when there is no session: the principal the check above set, if any."""
    return g.get("api_token")


def init_app(app):
    """In place of Flask-WTF's own check (same position: before every other hook), which cannot
    tell a token request from a session's."""
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    app.before_request(_sign_in_or_check_csrf)
