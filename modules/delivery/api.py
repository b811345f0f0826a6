"""/api/notifications/settings, deliveries, test messages, each person's preferences, and the
providers' receipts (each channel that has them reads its own)."""
import logging

from flask import current_app, jsonify, request
from flask_login import current_user, login_required

from ..auth import audit
from ..auth.tenancy import current_client_id, place_ids, require_manager, scoped
from ..errors import ApiError, ValidationError
from ..extensions import csrf, db
from ..timeutil import utcnow
from ..validation import Fields, QueryArgs, json_body
from ..retail import locations
from . import bp, limits, outbox, preferences, receipts, recipients
from .channels import all_channels, channel_class, names
from .models import DELIVERY_STATUSES, Delivery
from .settings import channel_fields, read_addresses, read_settings, save_settings, settings_dict, settings_fields

log = logging.getLogger(__name__)


# --- settings -----------------------------------------------------------------------------------

@bp.get("/api/notifications/settings")
@login_required
def api_settings():
    # Staff see the rule and which channels are on, not who receives them.
    answer = settings_dict(current_client_id(), current_app.config, with_addresses=current_user.can_manage)
    db.session.commit()
    return jsonify(answer)


@bp.post("/api/notifications/settings")
@login_required
@require_manager
def api_save_settings():
    fields = Fields(json_body(settings_fields()))
    current = settings_dict(current_client_id(), current_app.config)
    changes = read_settings(fields, current, current_app.config)
    fields.check()
    secret = save_settings(current_client_id(), changes, current_app.config, current, current_user.id)
    answer = settings_dict(current_client_id(), current_app.config)
    if secret:
        answer["webhook_secret"] = secret  # shown this once
    db.session.commit()
    return jsonify(answer)


# --- a location's recipients --------------------------------------------------------------------

def _location_fields():
    """{field: channel class} of the channels whose recipients are a list (email_recipients,
    whatsapp_numbers, sms_numbers, telegram_chat_ids): what a location's lists hold."""
    return {field: cls for cls, _, field in channel_fields() if not cls.single}


def _location_lists(client_id, location):
    lists = recipients.location_lists(client_id, location.id)
    return {"location": location.brief(),
            **{field: lists.get(cls.name, []) for field, cls in _location_fields().items()}}


@bp.get("/api/locations/<int:location_id>/recipients")
@login_required
@require_manager
def api_location_recipients(location_id):
    location = locations.get_location(current_client_id(), location_id, place_ids())
    return jsonify(_location_lists(current_client_id(), location))


@bp.put("/api/locations/<int:location_id>/recipients")
@login_required
@require_manager
def api_save_location_recipients(location_id):
    """Replace the location's lists named in the body (the others stay): its addresses hear that
    location's alerts, at once or in its daily digest as the shop's delivery mode says, beside the
    shop's own lists, which hear every location's."""
    client_id = current_client_id()
    location = locations.get_location(client_id, location_id, place_ids())
    by_field = _location_fields()
    fields = Fields(json_body(set(by_field)))
    lists = {field: read_addresses(fields, by_field[field], field, current_app.config)
             for field in by_field if fields.has(field)}
    fields.check()
    for field, addresses in lists.items():
        taken = recipients.on_shop_list(client_id, by_field[field].name, addresses)
        if taken:
            raise ApiError(409, "Already on the shop's own list, which hears every location.", {field: ", ".join(taken)})
    for field, addresses in lists.items():
        recipients.save_shop_list(client_id, by_field[field].name, addresses, enabled=True, location_id=location.id)
    if lists:
        audit.record(client_id, current_user.id, "location.recipients", f"location {location.id}: {location.name}",
                     {field: [None, addresses] for field, addresses in lists.items()})
    db.session.commit()
    return jsonify(_location_lists(client_id, location))


# --- deliveries ---------------------------------------------------------------------------------

@bp.get("/api/notifications/deliveries")
@login_required
def api_deliveries():
    args = QueryArgs(request.args)
    status = args.choice("status", DELIVERY_STATUSES)
    limit = args.integer("limit", 100, 1, 500)
    before_id = args.integer("before_id", None, 1, 2**31 - 1)
    args.check()
    stmt = scoped(Delivery)
    if status:
        # "failed" is every message that did not go out: waiting to retry, or given up (dead).
        stmt = stmt.where(Delivery.status.in_(("failed", "dead") if status == "failed" else (status,)))
    if before_id is not None:
        stmt = stmt.where(Delivery.id < before_id)
    rows = db.session.execute(stmt.order_by(Delivery.id.desc()).limit(limit)).scalars()
    return jsonify({"items": [_shown(d) for d in rows]})


def _shown(delivery):
    """A delivery as the API shows it: its recipient as its channel displays it (a structured
    address, such as a push subscription's keys, is not everyone's to read)."""
    answer = delivery.to_dict()
    if delivery.channel in names():
        answer["recipient"] = channel_class(delivery.channel).display(delivery.recipient)
    return answer


@bp.post("/api/notifications/test")
@login_required
@require_manager
def api_test_message():
    fields = Fields(json_body({"channel"}))
    channel = fields.choice("channel", names(), required=True)
    fields.check()
    allowed, retry_after = limits.take_test(current_client_id(), channel, utcnow())
    if not allowed:
        db.session.rollback()
        response = jsonify({"error": f"At most {limits.TESTS_PER_HOUR} test messages per channel and hour; "
                                     "try again later.", "details": {}})
        response.headers["Retry-After"] = str(retry_after)
        return response, 429
    queued = outbox.enqueue_test(current_client_id(), channel)
    if not queued:
        raise ValidationError({"channel": f"No {channel} recipients are set up and enabled."},
                              "There is nobody to send a test message to.")
    db.session.commit()
    return jsonify({"queued": queued}), 202


# --- each person's preferences -----------------------------------------------------------------

@bp.get("/api/me/preferences")
@login_required
def api_preferences():
    answer = preferences.get_preferences(current_user)
    db.session.commit()
    return jsonify(answer)


@bp.patch("/api/me/preferences")
@login_required
def api_save_preferences():
    fields = Fields(json_body(preferences.FIELDS))
    current = preferences.get_preferences(current_user)
    changes = preferences.read_preferences(fields, current_app.config, current)
    fields.check()
    preferences.save_preferences(current_user, changes, current)
    answer = preferences.get_preferences(current_user)
    db.session.commit()
    return jsonify(answer)


# --- providers' receipts ------------------------------------------------------------------------

def _receipt_view(cls):
    def view():
        receipt = cls.read_receipt(request, current_app.config)
        if receipt is not None:
            receipts.apply_receipt(receipt, utcnow())
            db.session.commit()
        return "", 204
    view.__name__ = f"receipt_{cls.name}"
    return csrf.exempt(view)


for _path in sorted({c.receipt_path for c in all_channels() if c.receipt_path}):
    # One route per path; the first channel registered on it reads it (SMS and WhatsApp share Twilio's).
    _cls = next(c for c in all_channels() if c.receipt_path == _path)
    bp.add_url_rule(_path, endpoint=f"receipt_{_cls.name}", view_func=_receipt_view(_cls), methods=["POST"])
