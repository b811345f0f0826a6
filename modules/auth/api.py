"""/api/auth/* and /api/users: the JSON side of sign-up, sign-in and the shop's users."""
from flask import current_app, jsonify, request
from flask_login import current_user, login_required
from flask_wtf.csrf import generate_csrf

from ..errors import ApiError
from ..extensions import csrf, db
from ..validation import MAX_ID, Fields, QueryArgs, empty_body, json_body
from ..timeutil import isoformat, utcnow
from . import audit, bp, devices, service, throttle, tokens
from .forms import read_new_token
from .models import ApiToken, User
from .roles import check_may_manage, require_owner
from .sessions import end_session, keep_this_session, sign_out_everywhere, start_session
from .tenancy import get_owned_or_404, place_ids, require_manager


def _signed_in(user, status=200):
    return jsonify({"user": user.to_dict(), "client": user.client.to_dict(), "csrf_token": generate_csrf()}), status


def read_registration(fields):
    """The fields of a new shop, shared by the JSON route and the HTML form."""
    shop_name = fields.text("shop_name", required=True, max_length=120)
    email = service.normalize_email(fields)
    password = service.check_password_field(fields, user_inputs=(shop_name, email, fields.data.get("email")))
    timezone = service.read_timezone(fields) or "UTC"
    return shop_name, email, password, timezone


def login_attempt(email, password):
    """The user for these credentials; 429 while this browser must wait, 401 when wrong."""
    email = (email or "").strip().lower()[:service.MAX_EMAIL]
    found = []

    def check():
        found.append(service.authenticate(email, password))
        return found[0] is not None

    if not throttle.attempt(email, devices.nonce_for(email), check):
        raise ApiError(401, "Invalid email or password.")
    return found[0]


def new_shop(shop_name, email, password, timezone):
    """A new shop from a checked registration: counted against the address's hourly sign-ups first
    (429 past them), then made (409 when the email is taken)."""
    throttle.count_signup(utcnow())
    return service.create_shop(shop_name, email, password, timezone)


# Sign-in needs no CSRF token (it is what hands one out); requiring a JSON body keeps
# cross-site forms out, since a form cannot send application/json without a preflight.
@bp.post("/api/auth/register")
@csrf.exempt
def api_register():
    if not current_app.config["ALLOW_SIGNUP"]:
        raise ApiError(403, "Sign-up is closed on this server.")
    fields = Fields(json_body({"shop_name", "email", "password", "timezone"}))
    shop_name, email, password, timezone = read_registration(fields)
    fields.check()
    client, user = new_shop(shop_name, email, password, timezone)
    start_session(user)
    return _signed_in(user, 201)


@bp.post("/api/auth/login")
@csrf.exempt
def api_login():
    data = json_body({"email", "password", "remember"})
    if not isinstance(data.get("email"), str) or not isinstance(data.get("password"), str):
        raise ApiError(400, "Email and password are required.",
                       {k: "This field is required." for k in ("email", "password") if not isinstance(data.get(k), str)})
    user = login_attempt(data["email"], data["password"])
    start_session(user, remember=data.get("remember") is True)
    return _signed_in(user)


@bp.post("/api/auth/logout")
def api_logout():
    empty_body()
    end_session()
    return "", 204


@bp.post("/api/auth/logout-everywhere")
@login_required
def api_logout_everywhere():
    """Ends every session and remember cookie of this user, this one included."""
    empty_body()
    sign_out_everywhere(current_user._get_current_object())
    return "", 204


@bp.post("/api/auth/password")
@login_required
def api_change_password():
    """A new password (the current one is needed): every other session of this user ends."""
    fields = Fields(json_body({"current_password", "new_password"}))
    user = current_user._get_current_object()
    new = service.check_password_field(fields, "new_password", user_inputs=(user.email, user.client.name))
    service.check_current_password(fields, user)
    fields.check()
    service.change_own_password(user, new)
    db.session.commit()
    keep_this_session(user)
    return "", 204


@bp.get("/api/auth/csrf")
def api_csrf():
    return jsonify({"csrf_token": generate_csrf()})


@bp.get("/api/auth/me")
@login_required
def api_me():
    return jsonify({"user": current_user.to_dict(), "client": current_user.client.to_dict()})


@bp.get("/api/users")
@login_required
@require_manager
def api_users():
    return jsonify({"items": [u.to_dict() for u in service.shop_users(current_user.client_id)]})


@bp.post("/api/users")
@login_required
@require_manager
def api_create_user():
    fields = Fields(json_body({"email", "password", "role"}))
    email = service.normalize_email(fields)
    password = service.check_password_field(fields, user_inputs=(email, fields.data.get("email"),
                                                                 current_user.client.name))
    role = service.read_role(fields)
    fields.check()
    check_may_manage(current_user, role)  # a manager cannot create an owner or a manager
    user = service.create_user(current_user.client_id, email, password, role, actor_id=current_user.id)
    return jsonify(user.to_dict()), 201


@bp.patch("/api/users/<int:user_id>")
@login_required
@require_manager
def api_update_user(user_id):
    user = get_owned_or_404(User, user_id)
    fields = Fields(json_body({"role", "active", "password", "location_ids"}))
    role = service.read_role(fields) if fields.has("role") else None
    active = fields.boolean("active") if fields.has("active") else None
    password = service.check_password_field(fields, user_inputs=(user.email, user.client.name)) \
        if fields.has("password") else None
    places = fields.id_list("location_ids") if fields.has("location_ids") else None
    fields.check()
    service.change_user(current_user, user, role, active, password)
    if places is not None:
        service.set_places(current_user, user, places)
    db.session.commit()
    return jsonify(user.to_dict())


@bp.delete("/api/users/<int:user_id>")
@login_required
@require_manager
def api_delete_user(user_id):
    """Deactivates: the user's history (stock movements, notifications) stays."""
    user = get_owned_or_404(User, user_id)
    service.deactivate_user(current_user, user)
    db.session.commit()
    return "", 204


@bp.get("/api/audit")
@login_required
@require_owner
def api_audit():
    args = QueryArgs(request.args)
    limit = args.integer("limit", 50, 1, 200)
    before_id = args.integer("before_id", None, 1, MAX_ID)
    args.check()
    return jsonify({"items": [audit.entry_dict(e) for e in audit.entries(current_user.client_id, limit, before_id)]})


# API tokens: managed with a session only (a token is refused these routes before they run).
@bp.get("/api/tokens")
@login_required
@require_manager
def api_tokens():
    return jsonify({"items": [t.to_dict() for t in tokens.shop_tokens(current_user.client_id)]})


@bp.post("/api/tokens")
@login_required
@require_manager
def api_create_token():
    fields = Fields(json_body({"name", "scope", "location_id"}))
    name, scope = read_new_token(fields)
    location_id = fields.integer("location_id", minimum=1, maximum=MAX_ID, nullable=True)
    fields.check()
    if location_id is not None:
        tokens.check_binding(current_user.client_id, location_id, place_ids())
    token, secret = tokens.create_token(current_user.client_id, current_user.id, name, scope, location_id)
    db.session.commit()
    shown = {"id": token.id, "name": token.name, "scope": token.scope, "token": secret,
             "created_at": isoformat(token.created_at)}
    if token.location_id:  # a token bound to a location says so; the others answer as before
        shown["location_id"] = token.location_id
    return jsonify(shown), 201


@bp.delete("/api/tokens/<int:token_id>")
@login_required
@require_manager
def api_revoke_token(token_id):
    tokens.revoke_token(get_owned_or_404(ApiToken, token_id), current_user.id)
    db.session.commit()
    return "", 204
