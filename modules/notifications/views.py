"""The notifications page, and the bell's unread count for every signed-in page's header."""
from flask import render_template, request
from flask_login import current_user, login_required

from ..validation import MAX_ID, QueryArgs
from . import bp
from . import service as bell

PAGE_SIZE = 25


@bp.app_context_processor
def bell_context():
    if current_user.is_authenticated:
        return {"bell_unread": bell.unread_count(current_user)}
    return {}


@bp.get("/notifications")
@login_required
def notifications_page():
    args = QueryArgs(request.args)
    before_id = args.integer("before_id", None, 1, MAX_ID)
    args.check()
    items = bell.list_notifications(current_user, limit=PAGE_SIZE + 1, before_id=before_id)
    more = len(items) > PAGE_SIZE
    items = items[:PAGE_SIZE]
    return render_template("notifications/list.html", items=items,
                           next_before=items[-1].id if more and items else None)
