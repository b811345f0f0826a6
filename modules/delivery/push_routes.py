"""The installable back office and each person's devices: the web app manifest, the service worker
at /sw.js (scope /), the server's VAPID public key, and a person's push subscriptions (recipient
rows of the push channel, one per device; only their own: another's id is a 404)."""
from flask import current_app, jsonify, send_from_directory, url_for
from flask_login import current_user, login_required
from sqlalchemy import delete, func, select

from ..auth import audit
from ..auth.tenancy import current_client_id, owned_by, scoped
from ..dialect import insert
from ..errors import ApiError, ValidationError
from ..extensions import db
from ..timeutil import isoformat, utcnow
from ..validation import json_body
from . import bp
from .channels import InvalidAddress
from .channels.push import PushChannel, endpoint_host, public_key
from .models import Recipient

MAX_DEVICES = 20  # per person: a browser that subscribes afresh on every visit stays bounded
CHANNEL = PushChannel.name


# --- the installable app ------------------------------------------------------------------------

@bp.get("/manifest.webmanifest")
def manifest():
    icons = [{"src": url_for("static", filename=f"icons/icon-{size}.png"), "sizes": f"{size}x{size}",
              "type": "image/png", "purpose": "any"} for size in (192, 512)]
    answer = jsonify({"name": "Stockbell", "short_name": "Stockbell", "start_url": "/", "scope": "/",
                      "display": "standalone", "background_color": "#ffffff", "theme_color": "#1f5fbf",
                      "icons": icons})
    answer.mimetype = "application/manifest+json"
    return answer


@bp.get("/sw.js")
def service_worker():
    """static/js/sw.js served from the root, so that its scope may be the whole app."""
    answer = send_from_directory(current_app.static_folder, "js/sw.js", mimetype="text/javascript", max_age=0)
    answer.headers["Service-Worker-Allowed"] = "/"
    return answer


# --- the key and the devices --------------------------------------------------------------------

@bp.get("/api/push/key")
@login_required
def push_key():
    available, reason = PushChannel.available(current_app.config)
    if not available:
        raise ApiError(503, reason)
    return jsonify({"public_key": public_key(current_app.config)})


def _mine():
    """The signed-in person's subscriptions (their shop and their user id, this channel)."""
    return scoped(Recipient).where(Recipient.user_id == current_user.id, Recipient.channel == CHANNEL)


@bp.get("/api/me/push-subscriptions")
@login_required
def list_subscriptions():
    rows = db.session.execute(_mine().order_by(Recipient.id)).scalars().all()
    db.session.commit()
    return jsonify({"items": [{"id": r.id, "endpoint_host": endpoint_host(r.address),
                               "created_at": isoformat(r.created_at)} for r in rows]})


@bp.post("/api/me/push-subscriptions")
@login_required
def add_subscription():
    body = json_body({"endpoint", "keys", "expirationTime"})
    try:
        stored = PushChannel.validate(body, current_app.config)
    except InvalidAddress as e:
        raise ValidationError({getattr(e, "field", "subscription"): str(e)}, "The push subscription is not valid.")
    endpoint = PushChannel.parse(stored)["endpoint"]
    for row in db.session.execute(_mine()).scalars():
        if PushChannel.parse(row.address)["endpoint"] == endpoint:  # this device again, perhaps with new keys
            row.address, row.enabled, row.opted_out_at = stored, True, None
            db.session.commit()
            return jsonify({"id": row.id}), 200
    count = db.session.execute(select(func.count()).select_from(_mine().subquery())).scalar_one()
    if count >= MAX_DEVICES:
        raise ApiError(409, f"At most {MAX_DEVICES} devices per person; stop notifying one first.")
    # The unique index (user, channel, address) decides between two identical requests at once.
    stmt = insert(Recipient).on_conflict_do_nothing(
        index_elements=["user_id", "channel", "address"], index_where=Recipient.user_id.is_not(None)
    ).values(client_id=current_client_id(), user_id=current_user.id, channel=CHANNEL, address=stored, enabled=True,
             mode="instant", created_at=utcnow()).returning(Recipient.id)
    made = db.session.execute(stmt).scalar_one_or_none()
    if made is None:
        made = db.session.execute(_mine().where(Recipient.address == stored)).scalar_one().id
        db.session.commit()
        return jsonify({"id": made}), 200
    _audit("push_subscription.add", {"device": [None, endpoint_host(stored)]})
    db.session.commit()
    return jsonify({"id": made}), 201


@bp.delete("/api/me/push-subscriptions/<int:subscription_id>")
@login_required
def delete_subscription(subscription_id):
    row = db.session.execute(_mine().where(Recipient.id == subscription_id)).scalar_one_or_none()
    if row is None:
        raise ApiError(404, "No such subscription.")
    host = endpoint_host(row.address)
    db.session.execute(delete(Recipient).where(owned_by(Recipient, current_client_id()), Recipient.id == row.id))
    _audit("push_subscription.delete", {"device": [host, None]})
    db.session.commit()
    return "", 204


def _audit(action, changes):
    audit.record(current_client_id(), current_user.id, action, f"user {current_user.id}: {current_user.email}",
                 changes)
