"""/api/notifications: the bell's JSON routes, thin over notifications.service."""
from flask import abort, jsonify, request, session
from flask_login import current_user, login_required

from ..auth.sessions import SESSION_KEY
from ..extensions import login_manager
from ..validation import MAX_ID, QueryArgs, empty_body
from . import bp
from . import service as bell


def _reader():
    """Who is asking, with their unread count. A session's user comes from Flask's own session
    (verified by Flask as for every request) and is checked live in one statement by primary key,
    with the count: no ORM load of the user. A remember cookie or a token takes Flask-Login's way.
    None: nobody signed in."""
    reader = bell.live_reader(session.get(SESSION_KEY))
    if reader is None and current_user.is_authenticated:
        reader = bell.Reader(current_user.id, current_user.client_id, bell.unread_count(current_user))
    return reader


@bp.get("/api/notifications")
def api_notifications():
    """The bell's list, opened from every page."""
    reader = _reader()
    if reader is None:
        return login_manager.unauthorized()
    args = QueryArgs(request.args)
    unread_only, limit = args.flag("unread"), args.integer("limit", 20, 1, 100)
    before_id = args.integer("before_id", None, 1, MAX_ID)
    args.check()
    items = bell.list_notifications(reader, unread_only=unread_only, limit=limit, before_id=before_id)
    return jsonify({"items": [n.to_dict() for n in items], "unread_count": reader.unread})


@bp.get("/api/notifications/unread-count")
def api_unread_count():
    """The bell's poll (one tab of a browser polls for all of them): an ETag of the answer, and a
    304 without a body when the tab's If-None-Match still holds."""
    reader = _reader()
    if reader is None:
        return login_manager.unauthorized()
    response = jsonify({"count": reader.unread})
    response.add_etag()
    return response.make_conditional(request)


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
