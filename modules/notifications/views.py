"""The dashboard (the home page: what needs attention), the notifications page, and the bell's
unread count for every signed-in page's header."""
from flask import redirect, render_template, request, url_for
from flask_login import current_user, login_required

from ..purchasing import service as purchasing
from ..retail import charts, switch, windows
from ..timeutil import utcnow
from ..validation import MAX_ID, QueryArgs
from . import bp, dashboard
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


@bp.get("/")
def dashboard_page():
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    now = utcnow()
    client = current_user.client
    windows.roll_for_request(client.id)
    place = switch.current_place()
    shown_ids = [place.location_id] if place.location_id is not None else place.ids
    attention = dashboard.attention(client.id, now, location_id=place.location_id, ids=place.ids)
    per_day = dashboard.alerts_per_day(client.id, client.timezone, now, location_ids=shown_ids)
    chart = charts.bar_chart([(day.strftime("%d %b"), count) for day, count in per_day])
    # The stock's value is the whole shop's (purchasing counts no place): shown in the whole view only.
    whole = shown_ids is None
    return render_template("notifications/dashboard.html", attention=attention, chart=chart,
                           alerts_total=sum(count for _, count in per_day),
                           alerts=dashboard.last_alerts(current_user, location_ids=shown_ids),
                           places=dashboard.place_counts(client.id, place.ids)
                           if place.switch and place.location_id is None else [],
                           stock_value=purchasing.stock_value(client.id) if current_user.can_manage and whole else None)
