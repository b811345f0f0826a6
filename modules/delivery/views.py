"""The HTML pages: notification settings and deliveries."""
from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from ..auth.settings import get_settings
from ..auth.tenancy import current_client_id, scoped
from ..errors import ValidationError
from ..extensions import db
from ..validation import Fields
from . import bp
from .models import Delivery
from .settings import SETTINGS_FIELDS, read_settings, save_settings


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
        return render_template("delivery/settings.html", form=_settings_form(settings), errors={})
    if not current_user.can_manage:
        return render_template("delivery/settings.html", form=_settings_form(settings), errors={},
                               error="Only owners and managers can change notification settings."), 403
    fields = Fields({k: v for k, v in request.form.items() if k in SETTINGS_FIELDS}, form=True)
    try:
        changes = read_settings(fields, settings.to_dict(), form=True)
        fields.check()
    except ValidationError as e:
        return render_template("delivery/settings.html", form=request.form, errors=e.details,
                               error="Nothing was saved: please correct the fields marked below."), 400
    save_settings(current_client_id(), changes)
    flash("Notification settings saved.", "success")
    return redirect(url_for("delivery.settings_page"), code=303)


@bp.get("/notifications/deliveries")
@login_required
def deliveries_page():
    rows = db.session.execute(scoped(Delivery).order_by(Delivery.id.desc()).limit(200)).scalars().all()
    return render_template("delivery/deliveries.html", deliveries=rows)
