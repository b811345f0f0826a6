"""/api/notifications: the bell's JSON routes, thin over notifications.service."""
from flask import abort, jsonify, request
from flask_login import current_user, login_required

from ..validation import MAX_ID, QueryArgs, empty_body
from . import bp
from . import service as bell


@bp.get("/api/notifications")
@login_required
def api_notifications():
    args = QueryArgs(request.args)
    unread_only, limit = args.flag("unread"), args.integer("limit", 20, 1, 100)
    before_id = args.integer("before_id", None, 1, MAX_ID)
    args.check()
    items = bell.list_notifications(current_user, unread_only=unread_only, limit=limit, before_id=before_id)
    return jsonify({"items": [n.to_dict() for n in items], "unread_count": bell.unread_count(current_user)})


@bp.get("/api/notifications/unread-count")
@login_required
def api_unread_count():
    """The bell's poll. A tab's poll is answered in front of Flask (`poll.py`); it comes here when
    that cannot answer: a remember cookie, a bearer token, a query string, a database failure."""
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
