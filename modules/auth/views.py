"""The HTML pages: register a shop, log in, log out, the audit log, API tokens."""
from urllib.parse import urlsplit

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from ..errors import ApiError, ValidationError, wants_json
from ..extensions import db, login_manager
from ..validation import MAX_ID, Fields, QueryArgs
from . import audit, bp, service, tokens
from .api import login_attempt, read_registration
from .forms import read_new_token
from .models import ApiToken
from .tenancy import get_owned_or_404
from .sessions import end_session, start_session


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
        client, user = service.create_shop(shop_name, email, password, timezone)
    except ApiError as e:
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


@bp.route("/settings/tokens", methods=["GET", "POST"])
@login_required
def tokens_page():
    """The shop's API tokens; a new one is shown on the answer to its creation, and never again."""
    if not current_user.can_manage:
        return _managers_only()
    created, errors, form, status = None, {}, {}, 200
    if request.method == "POST":
        fields = Fields(request.form, form=True)
        name, scope = read_new_token(fields)
        if fields.errors:
            errors, form, status = fields.errors, request.form, 400
        else:
            token, secret = tokens.create_token(current_user.client_id, current_user.id, name, scope)
            db.session.commit()
            created = {"name": token.name, "token": secret}
    items = [t.to_dict() for t in tokens.shop_tokens(current_user.client_id)]
    return render_template("auth/tokens.html", items=items, created=created, errors=errors, form=form), status


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
