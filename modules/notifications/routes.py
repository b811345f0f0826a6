"""/api/notifications/* and /api/alerts/*: thin JSON routes over the notifications services."""
from flask import abort, jsonify, request
from flask_login import current_user, login_required

from ..auth.tenancy import current_client_id, get_owned_or_404, require_manager, scoped
from ..errors import ApiError, ValidationError
from ..extensions import db
from ..validation import Fields, QueryArgs, empty_body, json_body
from . import alerts, bell, bp, outbox, stats
from .models import CHANNELS, DELIVERY_STATUSES, Delivery, StockAlert
from .settings import SETTINGS_FIELDS, get_settings, read_settings, save_settings


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


# --- the bell -----------------------------------------------------------------------------------

@bp.get("/api/notifications")
@login_required
def api_notifications():
    args = QueryArgs(request.args)
    unread_only, limit = args.flag("unread"), args.integer("limit", 20, 1, 100)
    before_id = args.integer("before_id", None, 1, 2**63 - 1)
    args.check()
    items = bell.list_notifications(current_user, unread_only=unread_only, limit=limit, before_id=before_id)
    return jsonify({"items": [n.to_dict() for n in items], "unread_count": bell.unread_count(current_user)})


@bp.get("/api/notifications/unread-count")
@login_required
def api_unread_count():
    return jsonify({"count": bell.unread_count(current_user)})


@bp.post("/api/notifications/<int:notification_id>/read")
@login_required
def api_mark_read(notification_id):
    empty_body()
    notification = bell.get_notification(current_user, notification_id)
    if notification is None:
        abort(404)
    return jsonify(bell.mark_read(notification).to_dict())


@bp.post("/api/notifications/read-all")
@login_required
def api_mark_all_read():
    empty_body()
    return jsonify({"updated": bell.mark_all_read(current_user)})


# --- alerts -------------------------------------------------------------------------------------

@bp.get("/api/alerts")
@login_required
def api_alerts():
    stmt = scoped(StockAlert)
    if not QueryArgs(request.args).flag("show_resolved"):
        stmt = stmt.where(StockAlert.resolved_at.is_(None))
    rows = db.session.execute(stmt.order_by(StockAlert.id.desc()).limit(500)).unique().scalars()
    return jsonify({"items": [a.to_dict() for a in rows]})


@bp.get("/api/alerts/stats")
@login_required
def api_alert_stats():
    return jsonify(stats.alert_stats(current_client_id()))


@bp.get("/api/alerts/<int:alert_id>")
@login_required
def api_alert(alert_id):
    return jsonify(get_owned_or_404(StockAlert, alert_id).to_dict())


@bp.post("/api/alerts/<int:alert_id>/resolve")
@login_required
def api_resolve_alert(alert_id):
    empty_body()
    alert = get_owned_or_404(StockAlert, alert_id)
    if alert.resolved_at is not None:
        raise ApiError(409, "This alert is already resolved.")
    alerts.resolve_alert(alert, current_user.id)
    db.session.commit()
    return jsonify(alert.to_dict())


@bp.post("/api/alerts/trigger-check")
@login_required
def api_trigger_check():
    empty_body()
    result = stats.check_shop(current_client_id())
    db.session.commit()
    return jsonify(result)


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
