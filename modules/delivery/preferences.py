"""Each person's own choices: which alert kinds reach them (their bell and their channels alike),
and their own email, SMS and WhatsApp, instant or in the digest. Untouched, they hear every kind
in the bell and nothing on a channel of their own, as before."""
from sqlalchemy import select

from ..alerts import kinds as alert_kinds
from ..alerts.kinds import KINDS
from ..auth import audit
from ..extensions import db
from ..notifications.models import UserPreferences
from ..timeutil import utcnow
from . import recipients
from .channels import InvalidAddress, all_channels, channel_class

MODES = ("instant", "digest")
FIELDS = ("kinds",) + tuple(c.name for c in all_channels() if c.personal)


def address_key(channel):
    return channel_class(channel).address_key


def kind_choices():
    """(kind, label) of every alert kind, in the registry's order, for the preferences page."""
    return [(k.name, k.preference_label) for k in KINDS.values()]


def personal_channels():
    return [c for c in all_channels() if c.personal]


def get_preferences(user):
    row = db.session.execute(select(UserPreferences).where(UserPreferences.user_id == user.id)).scalar_one_or_none()
    kinds = alert_kinds.default_kinds(user.role) if row is None or row.kinds is None else \
        [k for k in row.kinds.split(",") if k in KINDS]
    out = {"kinds": kinds}
    mine = recipients.personal(user)
    for cls in personal_channels():
        row = mine.get(cls.name)
        out[cls.name] = {"enabled": bool(row and row.enabled), address_key(cls.name): row.address if row else None,
                         "mode": (row.mode if row and row.mode else "instant"),
                         "opted_out": bool(row and row.opted_out_at)}
    return out


def read_preferences(fields, config, current):
    """The changes present in a PATCH body ({kinds?, email?: {...}, sms?: {...}, whatsapp?: {...}}),
    checked against `current` (get_preferences): a channel turned on needs an address."""
    changes = {}
    if fields.has("kinds"):
        kinds = fields.data.get("kinds")
        if not isinstance(kinds, list) or not all(isinstance(k, str) for k in kinds):
            fields.error("kinds", "Must be a list of alert kinds.")
        elif set(kinds) - set(KINDS):
            fields.error("kinds", "Unknown kind; the kinds are: " + ", ".join(KINDS) + ".")
        else:
            changes["kinds"] = [k for k in KINDS if k in kinds]
    for cls in personal_channels():
        if not fields.has(cls.name):
            continue
        value = fields.data.get(cls.name)
        key = address_key(cls.name)
        if not isinstance(value, dict) or set(value) - {"enabled", key, "mode"}:
            fields.error(cls.name, f"Must be an object with enabled, {key} and mode.")
            continue
        entry = {}
        if "enabled" in value:
            if not isinstance(value["enabled"], bool):
                fields.error(cls.name, "enabled must be true or false.")
                continue
            entry["enabled"] = value["enabled"]
        if "mode" in value:
            if value["mode"] not in MODES:
                fields.error(cls.name, "mode must be instant or digest.")
                continue
            entry["mode"] = value["mode"]
        if key in value:
            address = value[key]
            if address is None or (isinstance(address, str) and not address.strip()):
                entry["address"] = None
            elif not isinstance(address, str) or len(address) > 254:
                fields.error(cls.name, f"{key} must be a string.")
                continue
            else:
                try:
                    entry["address"] = cls.validate(address.strip(), config)
                except InvalidAddress as e:
                    fields.error(cls.name, str(e))
                    continue
        if entry.get("enabled"):
            available, reason = cls.available(config)
            if not available:
                fields.error(cls.name, f"{cls.label} cannot be turned on: not configured on this server. {reason}")
                continue
        changes[cls.name] = entry
    for name, entry in changes.items():
        if name != "kinds" and {**current[name], **entry}.get("enabled") and not _address(current, name, entry):
            fields.error(name, f"Give your {address_key(name)} to turn {channel_class(name).label} on.")
    return changes


def _address(current, channel, entry):
    """The address a channel will have after `entry` (its change) is applied."""
    return entry.get("address", current[channel][address_key(channel)])


def save_preferences(user, changes, current):
    """Apply validated changes and audit them (the caller commits); `current` is get_preferences(user)."""
    if "kinds" in changes:
        row = db.session.get(UserPreferences, user.id)
        if row is None:
            row = UserPreferences(user_id=user.id, client_id=user.client_id)
            db.session.add(row)
        row.kinds = "," + ",".join(changes["kinds"]) + ","
        row.updated_at = utcnow()
    for cls in personal_channels():
        if cls.name not in changes:
            continue
        merged = {**current[cls.name], **changes[cls.name]}
        address = _address(current, cls.name, changes[cls.name])
        recipients.save_personal(user, cls.name, address, merged["enabled"] and address is not None, merged["mode"])
    db.session.flush()
    changed = audit.diff(current, get_preferences(user))
    if changed:
        audit.record(user.client_id, user.id, "preferences.update", f"user {user.id}: {user.email}", changed)
