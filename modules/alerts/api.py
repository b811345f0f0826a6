"""/api/alerts: a shop's alert episodes, their stats, resolving one, the manual check; and
snoozing a product (/api/products/<id>/snooze)."""
from flask import jsonify, request
from flask_login import current_user, login_required

from ..auth.tenancy import at_places, current_client_id, get_owned_or_404, place_ids, require_manager, scoped
from ..errors import ApiError
from ..extensions import db
from ..retail.models import Product
from ..retail.service import product_dict
from ..timeutil import utcnow
from ..validation import Fields, QueryArgs, empty_body, json_body
from . import bp, service, snooze, stats
from .forms import SNOOZE_FIELDS, read_snooze
from .models import StockAlert


@bp.get("/api/alerts")
@login_required
def api_alerts():
    stmt = at_places(scoped(StockAlert), StockAlert.location_id, place_ids())
    if not QueryArgs(request.args).flag("show_resolved"):
        stmt = stmt.where(StockAlert.resolved_at.is_(None))
    rows = db.session.execute(stmt.order_by(StockAlert.id.desc()).limit(500)).unique().scalars()
    return jsonify({"items": [a.to_dict() for a in rows]})


@bp.get("/api/alerts/stats")
@login_required
def api_alert_stats():
    return jsonify(stats.alert_stats(current_client_id(), place_ids()))


def _seen_alert_or_404(alert_id):
    """The shop's alert at one of the caller's locations; another place's answers 404 like another shop's."""
    alert = get_owned_or_404(StockAlert, alert_id)
    mine = place_ids()
    if mine is not None and alert.location_id not in mine:
        raise ApiError(404, "Not found.")
    return alert


@bp.get("/api/alerts/<int:alert_id>")
@login_required
def api_alert(alert_id):
    return jsonify(_seen_alert_or_404(alert_id).to_dict())


@bp.post("/api/alerts/<int:alert_id>/resolve")
@login_required
@require_manager
def api_resolve_alert(alert_id):
    empty_body()
    alert = _seen_alert_or_404(alert_id)
    if alert.resolved_at is not None:
        raise ApiError(409, "This alert is already resolved.")
    service.resolve_alert(alert, current_user.id)
    db.session.commit()
    return jsonify(alert.to_dict())


@bp.post("/api/alerts/trigger-check")
@login_required
@require_manager
def api_trigger_check():
    empty_body()
    result = stats.check_shop(current_client_id())
    db.session.commit()
    return jsonify(result)


# --- snooze -------------------------------------------------------------------------------------

@bp.post("/api/products/<int:product_id>/snooze")
@login_required
@require_manager
def api_snooze(product_id):
    product = get_owned_or_404(Product, product_id)
    fields = Fields(json_body(SNOOZE_FIELDS))
    until, muted = read_snooze(fields, current_user.client.timezone, utcnow())
    fields.check()
    snooze.snooze(product, until, muted, current_user.id)
    db.session.commit()
    return jsonify(product_dict(product))


@bp.delete("/api/products/<int:product_id>/snooze")
@login_required
@require_manager
def api_lift_snooze(product_id):
    product = get_owned_or_404(Product, product_id)
    snooze.lift(product, utcnow(), current_user.id)
    db.session.commit()
    return jsonify(product_dict(product))
