"""/api/notifications/settings, /api/notifications/deliveries and test messages."""
from flask import jsonify, request
from flask_login import login_required

from ..auth.settings import get_settings
from ..auth.tenancy import current_client_id, require_manager, scoped
from ..errors import ValidationError
from ..extensions import db
from ..validation import Fields, QueryArgs, json_body
from . import bp, outbox
from .models import CHANNELS, DELIVERY_STATUSES, Delivery
from .settings import SETTINGS_FIELDS, read_settings, save_settings


# --- settings -----------------------------------------------------------------------------------

@bp.get("/api/notifications/settings")
@login_required
def api_settings():
    settings = get_settings(current_client_id())
    db.session.commit()
    return jsonify(settings.to_dict())


@bp.post("/api/notifications/settings")
@login_required
@require_manager
def api_save_settings():
    fields = Fields(json_body(SETTINGS_FIELDS))
    current = get_settings(current_client_id()).to_dict()
    changes = read_settings(fields, current)
    fields.check()
    return jsonify(save_settings(current_client_id(), changes).to_dict())


# --- deliveries ---------------------------------------------------------------------------------

@bp.get("/api/notifications/deliveries")
@login_required
def api_deliveries():
    args = QueryArgs(request.args)
    status = args.choice("status", DELIVERY_STATUSES)
    limit = args.integer("limit", 100, 1, 500)
    args.check()
    stmt = scoped(Delivery)
    if status:
        # "failed" is every message that did not go out: waiting to retry, or given up (dead).
        stmt = stmt.where(Delivery.status.in_(("failed", "dead") if status == "failed" else (status,)))
    rows = db.session.execute(stmt.order_by(Delivery.id.desc()).limit(limit)).scalars()
    return jsonify({"items": [d.to_dict() for d in rows]})


@bp.post("/api/notifications/test")
@login_required
@require_manager
def api_test_message():
    fields = Fields(json_body({"channel"}))
    channel = fields.choice("channel", CHANNELS, required=True)
    fields.check()
    queued = outbox.enqueue_test(current_client_id(), channel)
    if not queued:
        raise ValidationError({"channel": f"No {channel} recipients are set up and enabled."},
                              "There is nobody to send a test message to.")
    db.session.commit()
    return jsonify({"queued": queued}), 202
