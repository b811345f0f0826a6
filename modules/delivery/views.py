"""The HTML pages: notification settings, each person's preferences, deliveries, unsubscribe."""
from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from ..auth.models import Client
from ..auth.tenancy import current_client_id, scoped
from ..errors import ValidationError
from ..extensions import csrf, db
from ..timeutil import utcnow
from ..validation import Fields, QueryArgs
from . import bp, preferences
from .channels import all_channels
from .models import DELIVERY_STATUSES, Delivery
from .recipients import opt_out
from .settings import address_warnings, channel_fields, opted_out, read_settings, save_settings, settings_dict, \
    settings_fields
from .tokens import read_unsubscribe_token

PAGE_SIZE = 50


def _channels(client_id):
    """What the settings page shows for each channel, in the registry's order."""
    config, out_of = current_app.config, opted_out(client_id)
    rows = []
    for cls, _, _ in channel_fields():
        available, reason = cls.available(config)
        note = cls.note(config)
        rows.append({"name": cls.name, "label": cls.label, "field": cls.field, "single": cls.single,
                     "placeholder": cls.placeholder, "available": available, "reason": reason, "note": note,
                     "opted_out": out_of.get(cls.name, [])})
    return rows


def _settings_form(values):
    form = dict(values)
    for cls, _, _ in channel_fields():
        if not cls.single and isinstance(form.get(cls.field), list):
            form[cls.field] = "\n".join(form[cls.field])
        elif cls.single:
            form[cls.field] = form.get(cls.field) or ""
    return form


def _render_settings(form, errors=None, error=None, status=200):
    return render_template("delivery/settings.html", form=form, errors=errors or {}, error=error,
                           channels=_channels(current_client_id())), status


@bp.route("/settings/notifications", methods=["GET", "POST"])
@login_required
def settings_page():
    client_id = current_client_id()
    if request.method == "POST" and not current_user.can_manage:
        # Refused before anything is read: the first read of the settings would write their row.
        return render_template("error.html", status=403,
                               message="Only owners and managers can change notification settings."), 403
    current = settings_dict(client_id, current_app.config, with_addresses=current_user.can_manage)
    db.session.commit()
    if request.method == "GET":
        return _render_settings(_settings_form(current))
    fields = Fields({k: v for k, v in request.form.items() if k in settings_fields()}, form=True)
    try:
        changes = read_settings(fields, current, current_app.config, form=True)
        fields.check()
    except ValidationError as e:
        db.session.rollback()
        return _render_settings(request.form, e.details, "Nothing was saved: please correct the fields marked below.",
                                400)
    secret = save_settings(client_id, changes, current_app.config, current, current_user.id)
    db.session.commit()
    flash("Notification settings saved.", "success")
    if secret:
        flash(f"The webhook's signing secret (shown this once; keep it with the receiving program): {secret}", "info")
    for warning in address_warnings(changes):
        flash(warning, "warning")
    return redirect(url_for("delivery.settings_page"), code=303)


@bp.route("/settings/preferences", methods=["GET", "POST"])
@login_required
def preferences_page():
    current = preferences.get_preferences(current_user)
    db.session.commit()
    channels = preferences.personal_channels()
    if request.method == "GET":
        return render_template("delivery/preferences.html", prefs=current, channels=channels, errors={},
                               kind_choices=preferences.kind_choices())
    form = request.form
    body = {"kinds": form.getlist("kinds")}
    for cls in channels:
        key = preferences.address_key(cls.name)
        body[cls.name] = {"enabled": f"{cls.name}_enabled" in form, key: form.get(f"{cls.name}_{key}", ""),
                          "mode": form.get(f"{cls.name}_mode", "instant")}
    fields = Fields(body)
    changes = preferences.read_preferences(fields, current_app.config, current)
    if fields.errors:
        return render_template("delivery/preferences.html", prefs=current, channels=channels, errors=fields.errors,
                               kind_choices=preferences.kind_choices(),
                               error="Nothing was saved: please correct the fields marked below."), 400
    preferences.save_preferences(current_user, changes, current)
    db.session.commit()
    flash("Your preferences are saved.", "success")
    return redirect(url_for("delivery.preferences_page"), code=303)


@bp.get("/notifications/deliveries")
@login_required
def deliveries_page():
    args = QueryArgs(request.args)
    status = args.choice("status", DELIVERY_STATUSES)
    before_id = args.integer("before_id", None, 1, 2**31 - 1)
    if args.errors:
        abort(400)
    stmt = scoped(Delivery)
    if status:
        stmt = stmt.where(Delivery.status.in_(("failed", "dead") if status == "failed" else (status,)))
    if before_id is not None:
        stmt = stmt.where(Delivery.id < before_id)
    rows = db.session.execute(stmt.order_by(Delivery.id.desc()).limit(PAGE_SIZE + 1)).scalars().all()
    more = len(rows) > PAGE_SIZE
    return render_template("delivery/deliveries.html", deliveries=rows[:PAGE_SIZE], statuses=DELIVERY_STATUSES,
                           channels={c.name: c for c in all_channels()},
                           status=status, next_before=rows[PAGE_SIZE - 1].id if more else None)


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
@csrf.exempt  # RFC 8058: the mail client POSTs "List-Unsubscribe=One-Click", no session, no token
def unsubscribe(token):
    found = read_unsubscribe_token(token)
    shop = db.session.get(Client, found[0]) if found else None
    if shop is None:
        return render_template("delivery/unsubscribe.html", invalid=True), 404
    client_id, channel, address = found
    if request.method == "GET":
        return render_template("delivery/unsubscribe.html", shop=shop.name, address=address, done=False)
    opt_out(client_id, channel, address, utcnow())
    db.session.commit()
    return render_template("delivery/unsubscribe.html", shop=shop.name, address=address, done=True)


