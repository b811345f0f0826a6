"""Reading and saving a shop's notification settings: the alert rule's fields on the settings row,
each channel's switch and addresses as recipient rows (the fields come from the channel registry)."""
import re

from ..auth import audit
from ..auth.settings import get_settings
from ..extensions import db
from ..timeutil import is_timezone, utcnow
from . import recipients
from .channels import InvalidAddress, all_channels

_DIGEST_TIME = re.compile(r"([01]\d|2[0-3]):[0-5]\d")
MAX_RECIPIENTS = 20
SHOP_FIELDS = (
    "low_stock_enabled", "low_stock_threshold", "timezone", "delivery_mode", "digest_time",
    "forecast_days", "forecast_window_days", "notify_restocked", "currency",
)
_CURRENCY = re.compile(r"[A-Z]{3}")  # an ISO 4217 alphabetic code


def channel_fields():
    """(channel class, its switch, its addresses field) in the registry's order, for the channels
    on the shop's lists."""
    return [(c, f"{c.name}_enabled", c.field) for c in all_channels() if c.field]


def settings_fields():
    return SHOP_FIELDS + tuple(f for _, switch, field in channel_fields() for f in (switch, field))


def checkboxes():
    return ("low_stock_enabled", "notify_restocked") + tuple(switch for _, switch, _ in channel_fields())


def channel_states(config):
    """{channel: {"available", "reason"}}: whether this server is configured for each channel."""
    out = {}
    for cls, _, _ in channel_fields():
        available, reason = cls.available(config)
        out[cls.name] = {"available": available, "reason": reason}
    return out


def settings_dict(client_id, config, with_addresses=True):
    """The settings as the API shows them; without the addresses for people who may not read them."""
    settings = get_settings(client_id)
    out = settings.to_dict()
    lists = recipients.shop_lists(client_id)
    for cls, switch, field in channel_fields():
        entry = lists.get(cls.name, {"enabled": False, "addresses": []})
        out[switch] = entry["enabled"]
        if with_addresses:
            out[field] = (entry["addresses"][0] if entry["addresses"] else None) if cls.single else entry["addresses"]
    out["channels"] = channel_states(config)
    return out


def opted_out(client_id):
    """{channel: [addresses that opted out]} of the shop's lists."""
    return {name: entry["opted_out"] for name, entry in recipients.shop_lists(client_id).items() if entry["opted_out"]}


def read_addresses(fields, cls, name, config):
    """The checked addresses of one channel's field (None, with the error on `fields`, when bad)."""
    if cls.single:
        value = fields.data.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            return []
        value = fields.text(name, max_length=500)
        if value is None:
            return None
        values = [value]
    else:
        values = fields.string_list(name)
        if values is None:
            return None
        if len(values) > MAX_RECIPIENTS * 5:  # refused before checking each: a huge list costs nothing
            fields.error(name, f"At most {MAX_RECIPIENTS} entries.")
            return None
    out, seen = [], set()
    for value in values:
        try:
            address = cls.validate(value, config)
        except InvalidAddress as e:
            fields.error(name, str(e))
            return None
        if address.lower() not in seen:  # one mailbox or number once, whatever its spelling
            seen.add(address.lower())
            out.append(address)
    if len(out) > MAX_RECIPIENTS:
        fields.error(name, f"At most {MAX_RECIPIENTS} entries.")
        return None
    return out


def read_settings(fields, current, config, form=False):
    """The settings present in the input, validated against `current` (settings_dict). A form
    sends every field (an absent checkbox is false); JSON sends any subset."""
    changes = {}
    boxes = checkboxes()
    present = [f for f in settings_fields() if fields.has(f) or (form and f in boxes)]
    by_field = {field: cls for cls, _, field in channel_fields()}
    for name in present:
        if name in boxes:
            changes[name] = fields.boolean(name)
        elif name == "low_stock_threshold":
            changes[name] = fields.integer(name, required=True, minimum=0, maximum=1_000_000)
        elif name == "forecast_days":  # 0: off
            changes[name] = fields.integer(name, required=True, minimum=0, maximum=365)
        elif name == "forecast_window_days":
            changes[name] = fields.integer(name, required=True, minimum=1, maximum=365)
        elif name == "timezone":
            changes[name] = fields.text(name, required=True, max_length=64)
            if changes[name] is not None and not is_timezone(changes[name]):
                fields.error(name, "Unknown time zone (use an IANA name such as Europe/Berlin).")
        elif name in by_field:
            changes[name] = read_addresses(fields, by_field[name], name, config)
        elif name == "currency":
            value = fields.text(name, required=True, max_length=3)
            value = value.upper() if value else value
            if value is not None and not _CURRENCY.fullmatch(value):
                fields.error(name, "Must be a three-letter ISO 4217 currency code, e.g. USD or EUR.")
            changes[name] = value
        elif name == "delivery_mode":
            changes[name] = fields.choice(name, ("instant", "digest"), required=True)
        elif name == "digest_time":
            value = fields.text(name, required=True, max_length=5)
            if value is not None and not _DIGEST_TIME.fullmatch(value):
                fields.error(name, "Must be a time of day as HH:MM (24-hour), e.g. 09:00.")
            changes[name] = value
    states = channel_states(config)
    merged = {**current, **changes}
    for cls, switch, field in channel_fields():
        if changes.get(switch) and not states[cls.name]["available"]:
            fields.error(switch, f"{cls.label} cannot be turned on: not configured on this server. "
                                 f"{states[cls.name]['reason']}")
        elif merged.get(switch) and not merged.get(field) and field not in fields.errors:
            fields.error(field, f"Add at least one recipient to turn {cls.label} on.")
    return changes


def save_settings(client_id, changes, config, before, actor_id=None):
    """Apply validated changes and audit them against `before` (settings_dict as read for the
    validation; never the webhook's secret); the caller commits. Returns a webhook secret made
    now, or None (it is shown once, in the answer to this save)."""
    settings = get_settings(client_id)
    if changes.get("delivery_mode") == "digest" and settings.delivery_mode != "digest":
        # What went out one by one before the switch is not listed again in the first digest.
        settings.last_digest_at = utcnow()
    if "timezone" in changes:
        settings.client.timezone = changes["timezone"]
    for key in SHOP_FIELDS:
        if key in changes and key != "timezone":
            setattr(settings, key, changes[key])
    made = None
    for cls, switch, field in channel_fields():
        if switch not in changes and field not in changes:
            continue
        enabled = changes.get(switch, before[switch])
        secret = recipients.save_shop_list(client_id, cls.name, changes.get(field), enabled, signed=cls.signed)
        made = made or secret
    settings.updated_at = utcnow()
    db.session.flush()
    after = settings_dict(client_id, config)
    changed = audit.diff({k: v for k, v in before.items() if k not in ("updated_at", "channels")},
                         {k: v for k, v in after.items() if k not in ("updated_at", "channels")})
    if changed or made:
        if made:
            changed["webhook_secret"] = [None, "(new secret made)"]
        audit.record(client_id, actor_id, "settings.update", "notification settings", changed)
    return made


def address_warnings(changes):
    """What each channel has to say about the addresses just saved (they work, with a catch)."""
    return [warning for cls, _, field in channel_fields() for warning in cls.warnings(changes.get(field) or [])]
