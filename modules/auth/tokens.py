"""API tokens: a shop's till or script signs in with `Authorization: Bearer <token>`. The secret is
shown once; the database keeps only its HMAC-SHA256 under a pepper derived from SECRET_KEY, so a
copy of the database alone cannot be used to sign in."""
import hashlib
import hmac
import secrets
from datetime import timedelta

from flask import current_app
from sqlalchemy import or_, select, update

from ..errors import ApiError
from ..extensions import db
from ..timeutil import utcnow
from . import audit
from .models import ApiToken, Client, User
from .tenancy import for_shop, shop_location_names

TOKEN_PREFIX = "sb_"
SHOWN_PREFIX = 10  # "sb_" and 7 characters of the secret: enough to tell tokens apart, too few to guess
MAX_TOKEN_LENGTH = 200
TOUCH_EVERY = timedelta(minutes=1)  # last_used_at is written at most this often per token

# What a token may reach: GETs under these paths with any scope; these routes only with "stock".
READ_PATHS = ("/api/products", "/api/categories", "/api/alerts")
STOCK_ENDPOINTS = frozenset({"retail.api_change_stock", "retail.api_stock_batch"})


def _pepper():
    key = current_app.config["SECRET_KEY"]
    key = key.encode() if isinstance(key, str) else key
    return hmac.new(key, b"stockbell api token pepper", hashlib.sha256).digest()


def token_hash(secret: str) -> str:
    return hmac.new(_pepper(), secret.encode(), hashlib.sha256).hexdigest()


def check_binding(client_id, location_id, places=None):
    """Refuse binding a new token to `location_id` unless it is an active location of the shop
    among the caller's `places` (None: every one): 404 for another shop's or one outside them,
    409 for an inactive one. The JSON route and the tokens page ask the same question here."""
    found = {lid: active for lid, _, active in shop_location_names(client_id, [location_id])}
    if location_id not in found or (places is not None and location_id not in places):
        raise ApiError(404, "No such location.", {"location_id": "No such location."})
    if not found[location_id]:
        raise ApiError(409, "This location is inactive.", {"location_id": "This location is inactive."})


def create_token(client_id, user_id, name, scope, location_id=None):
    """A new token of the shop (bound to `location_id`, one the caller checked, when given): (row,
    the secret, to be shown this once). Audited; the caller commits."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(client_id=client_id, created_by=user_id, name=name, scope=scope, location_id=location_id,
                     token_hash=token_hash(secret), prefix=secret[:SHOWN_PREFIX], created_at=utcnow())
    db.session.add(token)
    db.session.flush()
    changes = {"name": [None, name], "scope": [None, scope]}
    if location_id:
        changes["location_id"] = [None, location_id]
    audit.record(client_id, user_id, "token.create", f"token {token.id}: {name}", changes)
    return token, secret


def revoke_token(token, user_id):
    """Revoke (kept, listed as revoked); revoking twice changes nothing. The caller commits."""
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        audit.record(token.client_id, user_id, "token.revoke", f"token {token.id}: {token.name}",
                     {"revoked": [False, True]})


def shop_tokens(client_id):
    """The shop's tokens, newest first, revoked ones included."""
    return db.session.execute(for_shop(ApiToken, client_id).order_by(ApiToken.id.desc())).scalars().all()


def find_token(secret):
    """The unrevoked token with this secret, or None."""
    if not secret or len(secret) > MAX_TOKEN_LENGTH or not (secret.isascii() and secret.isprintable()):
        return None
    digest = token_hash(secret)
    token = db.session.execute(
        select(ApiToken).where(ApiToken.token_hash == digest, ApiToken.revoked_at.is_(None))).scalar_one_or_none()
    # The lookup compared in the database; compare again in constant time before trusting it.
    if token is None or not hmac.compare_digest(token.token_hash, digest):
        return None
    return token


def touch(token, now=None):
    """Set last_used_at when it is a minute old or unset (a conditional UPDATE: two requests at
    once write it once). Commits its own small transaction, before the request's work starts."""
    now = now or utcnow()
    if token.last_used_at is not None and token.last_used_at > now - TOUCH_EVERY:
        return
    db.session.execute(update(ApiToken).where(
        ApiToken.id == token.id, or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at <= now - TOUCH_EVERY))
        .values(last_used_at=now), execution_options={"synchronize_session": False})
    db.session.commit()


# What each role may do of what tokens reach (API.md, Tenancy: staff adjust stock and read).
ROLE_MAY = {"owner": {"read", "stock"}, "manager": {"read", "stock"}, "staff": {"read", "stock"}}


def creator(token):
    """The token's creator while they are an active user of the token's shop, else None: a token
    acts with its creator's current rights, and with none once they are gone."""
    if token.created_by is None:
        return None
    user = db.session.get(User, token.created_by)
    if user is None or not user.active or user.client_id != token.client_id:
        return None
    return user


def allows(scope, role, method, path, endpoint):
    """Whether a token of `scope` made by someone who is now `role` may make this request (the
    route's rule, not the raw path): what the scope allows and the role may do."""
    may = ROLE_MAY.get(role, set())
    if method in ("GET", "HEAD"):
        return "read" in may and any(path == p or path.startswith(p + "/") for p in READ_PATHS)
    return scope == "stock" and "stock" in may and method == "POST" and endpoint in STOCK_ENDPOINTS


class TokenPrincipal:
    """Who a request signed in with a token is: the shop, no person, with its creator's current
    role. `id` is None, so movements record no user; `can_manage` is False, so nothing that
    silences an alert is reachable whatever the creator's role."""

    is_authenticated = True
    is_active = True
    is_anonymous = False
    is_token = True
    id = None
    email = None
    role = None
    can_manage = False

    def __init__(self, token, creator):
        self.token_id = token.id
        self.client_id = token.client_id
        self.scope = token.scope
        self.role = creator.role
        # A token bound to a location changes stock there only; else it has its creator's places.
        self.bound_location_id = token.location_id
        self.location_ids = [token.location_id] if token.location_id else creator.location_ids

    @property
    def client(self):
        return db.session.get(Client, self.client_id)

    def get_id(self):
        return None

