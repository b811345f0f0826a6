"""The HTML pages: register a shop, log in, log out, the audit log, API tokens, the shop's people
and each person's own account."""
from urllib.parse import urlsplit

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from ..errors import ApiError, ValidationError, wants_json
from ..extensions import db, login_manager
from ..validation import MAX_ID, Fields, QueryArgs
from . import audit, bp, service, tenancy, tokens
from .api import login_attempt, new_shop, read_registration
from .forms import read_new_token
from .models import ROLES, ApiToken, User
from .roles import check_may_manage, may_manage
from .sessions import end_session, keep_this_session, sign_out_everywhere, start_session
from .tenancy import get_owned_or_404, require_manager


@bp.app_context_processor
def _password_rule():
    """The password rule as the server applies it: every page's hint comes from here."""
    return {"password_rule": service.PASSWORD_RULE, "min_password": service.MIN_PASSWORD}


@login_manager.unauthorized_handler
def unauthorized():
    if wants_json():
        raise ApiError(401, "Sign in first.")
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


def safe_next(target):
    """Only a path on this site: no scheme, no host, no protocol-relative `//`."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else None


def home():
    """The page after sign-in: the dashboard, at the site's root."""
    return url_for("notifications.dashboard_page")


@bp.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "GET":
        if current_user.is_authenticated:
            return redirect(home())
        return render_template("auth/login.html", next=request.args.get("next", ""))
    email = request.form.get("email", "")
    try:
        user = login_attempt(email, request.form.get("password", ""))
    except ApiError as e:
        return render_template("auth/login.html", error=e.message, email=email,
                               next=request.form.get("next", "")), e.status, e.headers
    start_session(user)
    return redirect(safe_next(request.form.get("next")) or home(), code=303)


@bp.route("/register", methods=["GET", "POST"])
def register():
    if not current_app.config["ALLOW_SIGNUP"]:
        return render_template("auth/register.html", closed=True), 403
    if request.method == "GET":
        return render_template("auth/register.html", form={}, errors={})
    fields = Fields(request.form, form=True)
    shop_name, email, password, timezone = read_registration(fields)
    try:
        fields.check()
        client, user = new_shop(shop_name, email, password, timezone)
    except ApiError as e:
        if e.status == 429:
            return render_template("auth/register.html", form=request.form, errors={}, error=e.message), 429, \
                e.headers
        errors = e.details if isinstance(e, ValidationError) else {"email": e.message}
        return render_template("auth/register.html", form=request.form, errors=errors), 400
    start_session(user)
    flash(f"Welcome to Stockbell, {client.name}.", "success")
    return redirect(home(), code=303)


@bp.post("/logout")
def logout():
    end_session()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"), code=303)


AUDIT_PAGE = 50


@bp.get("/settings/audit")
@login_required
def audit_page():
    if current_user.role != "owner":
        return render_template("error.html", status=403, message="Only owners can read the audit log."), 403
    args = QueryArgs(request.args)
    before_id = args.integer("before_id", None, 1, MAX_ID)
    args.check()
    rows = audit.entries(current_user.client_id, AUDIT_PAGE + 1, before_id)
    items = [audit.entry_dict(e) for e in rows[:AUDIT_PAGE]]
    return render_template("auth/audit.html", items=items,
                           next_before=items[-1]["id"] if len(rows) > AUDIT_PAGE else None)


def _managers_only():
    return render_template("error.html", status=403, message="Only owners and managers can manage API tokens."), 403


def _token_places():
    """(the places a new token may be bound to [(id, name)], or [] when the shop has fewer than two
    active locations and the form offers no choice; {id: name} of every location of the shop)."""
    client_id = current_user.client_id
    every = tenancy.shop_location_names(client_id)
    active = [(lid, name) for lid, name, on in every if on]
    mine = tenancy.place_ids()
    choices = [(lid, name) for lid, name in active if mine is None or lid in mine] if len(active) >= 2 else []
    return choices, {lid: name for lid, name, _ in every}


@bp.route("/settings/tokens", methods=["GET", "POST"])
@login_required
def tokens_page():
    """The shop's API tokens; a new one is shown on the answer to its creation, and never again. With
    two or more active locations a new token may be bound to one (empty: any location)."""
    if not current_user.can_manage:
        return _managers_only()
    created, errors, form, status = None, {}, {}, 200
    if request.method == "POST":
        fields = Fields(request.form, form=True)
        name, scope = read_new_token(fields)
        location_id = fields.integer("location_id", minimum=1, maximum=MAX_ID)
        try:
            fields.check()
            if location_id is not None:
                tokens.check_binding(current_user.client_id, location_id, tenancy.place_ids())
            token, secret = tokens.create_token(current_user.client_id, current_user.id, name, scope, location_id)
            db.session.commit()
            created = {"name": token.name, "token": secret}
        except ApiError as e:
            db.session.rollback()
            errors, form, status = e.details or {"name": e.message}, request.form, 400
    choices, names = _token_places()
    items = [t.to_dict() for t in tokens.shop_tokens(current_user.client_id)]
    return render_template("auth/tokens.html", items=items, created=created, errors=errors, form=form,
                           places=choices, place_names=names,
                           show_places=bool(choices) or any(t.get("location_id") for t in items)), status


@bp.post("/settings/tokens/<int:token_id>/revoke")
@login_required
def revoke_token_page(token_id):
    if not current_user.can_manage:
        return _managers_only()
    token = get_owned_or_404(ApiToken, token_id)
    tokens.revoke_token(token, current_user.id)
    db.session.commit()
    flash(f"Revoked the token {token.name}.", "success")
    return redirect(url_for("auth.tokens_page"), code=303)


def _users_page(status=200, error=None, errors=None, form=None, row=None):
    """The people page; after a refusal, `error` says why, `errors` marks the fields of the add
    form (row None) or of person `row`'s forms."""
    people = [u.to_dict() for u in service.shop_users(current_user.client_id)]
    return render_template("auth/users.html", people=people,
                           may_manage=may_manage, roles=ROLES,
                           new_roles=[r for r in ROLES if may_manage(current_user, r)],
                           error=error, errors=errors or {}, form=form or {}, row=row), status


def _refused(e, row=None, form=None):
    """A refusal from the service as the page with its status: nothing was changed."""
    db.session.rollback()
    message = "please correct the fields marked below." if isinstance(e, ValidationError) else e.message
    return _users_page(e.status, f"Nothing was changed: {message}", e.details, form, row)


@bp.get("/settings/users")
@login_required
@require_manager
def users_page():
    return _users_page()


@bp.post("/settings/users")
@login_required
@require_manager
def add_user():
    fields = Fields(request.form, form=True)
    email = service.normalize_email(fields)
    password = service.check_password_field(fields, user_inputs=(email, fields.data.get("email"),
                                                                 current_user.client.name))
    role = service.read_role(fields)
    form = {"email": request.form.get("email", ""), "role": request.form.get("role", "")}
    try:
        fields.check()
        check_may_manage(current_user, role)  # a manager cannot add an owner or a manager
        user = service.create_user(current_user.client_id, email, password, role, actor_id=current_user.id)
    except ApiError as e:
        return _refused(e, form=form)
    flash(f"{user.email} is added as {user.role}: give them their password in person.", "success")
    return redirect(url_for("auth.users_page"), code=303)


def _change(user_id, done, **change):
    """Apply one change to person `user_id` through the service; the page again when refused."""
    user = get_owned_or_404(User, user_id)
    before = user.role
    fields = Fields(request.form, form=True)
    if "role" in change:
        change["role"] = service.read_role(fields)
    if "password" in change:
        change["password"] = service.check_password_field(fields, user_inputs=(user.email, user.client.name))
    try:
        fields.check()
        if change.get("active") is False:
            service.deactivate_user(current_user, user)
        else:
            service.change_user(current_user, user, **change)
    except ApiError as e:
        return _refused(e, row=user_id)
    db.session.commit()
    flash(done(user, before), "success")
    return redirect(url_for("auth.users_page"), code=303)


@bp.post("/settings/users/<int:user_id>/role")
@login_required
@require_manager
def change_role(user_id):
    return _change(user_id, lambda u, before: f"{u.email} is now {u.role}; their sessions ended."
                   if u.role != before else f"{u.email} is already {u.role}: nothing changed.", role=None)


@bp.post("/settings/users/<int:user_id>/deactivate")
@login_required
@require_manager
def deactivate(user_id):
    return _change(user_id, lambda u, _: f"{u.email} is deactivated: signed out everywhere and cannot sign in.",
                   active=False)


@bp.post("/settings/users/<int:user_id>/reactivate")
@login_required
@require_manager
def reactivate(user_id):
    return _change(user_id, lambda u, _: f"{u.email} can sign in again.", active=True)


@bp.post("/settings/users/<int:user_id>/password")
@login_required
@require_manager
def reset_password(user_id):
    return _change(user_id, lambda u, _: f"{u.email} has a new password; their sessions ended. Give it to them in "
                                      "person.", password=None)


@bp.get("/settings/account")
@login_required
def account_page():
    return render_template("auth/account.html", errors={})


@bp.post("/settings/account/password")
@login_required
def change_password():
    """Same rules as POST /api/auth/password: every other session ends, this one stays."""
    user = current_user._get_current_object()
    fields = Fields(request.form, form=True)
    new = service.check_password_field(fields, "new_password", user_inputs=(user.email, user.client.name))
    service.check_current_password(fields, user)
    if fields.errors:
        return render_template("auth/account.html", errors=fields.errors,
                               error="Your password is unchanged: please correct the fields marked below."), 400
    service.change_own_password(user, new)
    db.session.commit()
    keep_this_session(user)
    flash("Your password is changed. Every other session of yours is signed out; this one stays.", "success")
    return redirect(url_for("auth.account_page"), code=303)


@bp.post("/settings/account/sign-out-everywhere")
@login_required
def sign_out_everywhere_page():
    sign_out_everywhere(current_user._get_current_object())
    flash("You are signed out everywhere, on this device too.", "info")
    return redirect(url_for("auth.login"), code=303)
