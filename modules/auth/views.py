"""The HTML pages: register a shop, log in, log out."""
from urllib.parse import urlsplit

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from ..errors import ApiError, ValidationError, wants_json
from ..extensions import login_manager
from ..validation import MAX_ID, Fields, QueryArgs
from . import audit, bp, service
from .api import login_attempt, read_registration
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
