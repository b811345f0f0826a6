"""The HTML pages: notification settings, the full list of notifications, deliveries; and the
bell's unread count for every signed-in page's header."""
from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from ..auth.tenancy import current_client_id, scoped
from ..errors import ValidationError
from ..extensions import db
from ..validation import Fields
from . import bell, bp
from .models import Delivery
from .settings import SETTINGS_FIELDS, get_settings, read_settings, save_settings

PAGE_SIZE = 25


@bp.app_context_processor
def bell_context():
    if current_user.is_authenticated:
        return {"bell_unread": bell.unread_count(current_user)}
    return {}


def _settings_form(settings):
    values = settings.to_dict()
    for key in ("email_recipients", "whatsapp_numbers", "sms_numbers"):
        values[key] = "\n".join(values[key])
    return values


@bp.route("/settings/notifications", methods=["GET", "POST"])
@login_required
def settings_page():
    settings = get_settings(current_client_id())
    db.session.commit()
    if request.method == "GET":
        return render_template("notifications/settings.html", form=_settings_form(settings), errors={})
    if not current_user.can_manage:
        return render_template("notifications/settings.html", form=_settings_form(settings), errors={},
                               error="Only owners and managers can change notification settings."), 403
    fields = Fields({k: v for k, v in request.form.items() if k in SETTINGS_FIELDS}, form=True)
    try:
        changes = read_settings(fields, settings.to_dict(), form=True)
        fields.check()
    except ValidationError as e:
        return render_template("notifications/settings.html", form=request.form, errors=e.details,
                               error="Nothing was saved: please correct the fields marked below."), 400
    save_settings(current_client_id(), changes)
    flash("Notification settings saved.", "success")
    return redirect(url_for("notifications.settings_page"), code=303)


@bp.get("/notifications")
@login_required
def notifications_page():
    before_id = request.args.get("before_id", type=int)
    items = bell.list_notifications(current_user, limit=PAGE_SIZE + 1, before_id=before_id)
    more = len(items) > PAGE_SIZE
    items = items[:PAGE_SIZE]
    return render_template("notifications/list.html", items=items,
                           next_before=items[-1].id if more and items else None)


@bp.get("/notifications/deliveries")
@login_required
def deliveries_page():
    rows = db.session.execute(scoped(Delivery).order_by(Delivery.id.desc()).limit(200)).scalars().all()
    return render_template("notifications/deliveries.html", deliveries=rows)
