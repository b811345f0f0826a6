"""Reading and saving a shop's notification settings (the alert rule's fields and the channels)."""
import re

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from ..extensions import db
from ..timeutil import is_timezone, utcnow
from ..auth.settings import get_settings

_DIGEST_TIME = re.compile(r"([01]\d|2[0-3]):[0-5]\d")


# --- reading changes from the API or the settings form ----------------------------------------

SETTINGS_FIELDS = (
    "low_stock_enabled", "low_stock_threshold", "timezone", "email_enabled", "email_recipients",
    "whatsapp_enabled", "whatsapp_numbers", "sms_enabled", "sms_numbers", "delivery_mode", "digest_time",
    "forecast_days", "forecast_window_days", "notify_restocked",
)
CHECKBOXES = tuple(f for f in SETTINGS_FIELDS if f.endswith("_enabled") or f == "notify_restocked")
MAX_RECIPIENTS = 20


def _emails(fields, name):
    values = fields.string_list(name)
    if values is None:
        return None
    out = []
    for value in values:
        try:
            out.append(validate_email(value, check_deliverability=False).normalized)
        except EmailNotValidError as e:
            fields.error(name, f"{value!r} is not a valid email address: {e}")
            return None
    return _unique_capped(fields, name, out)


def _numbers(fields, name):
    values = fields.string_list(name)
    if values is None:
        return None
    out = []
    for value in values:
        try:
            number = phonenumbers.parse(value.removeprefix("whatsapp:"), None)
        except phonenumbers.NumberParseException:
            number = None
        if number is None or not phonenumbers.is_valid_number(number):
            fields.error(name, f"{value!r} is not a valid phone number in E.164 form (e.g. +14155550123).")
            return None
        out.append(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
    return _unique_capped(fields, name, out)


def _unique_capped(fields, name, values):
    seen, unique = set(), []
    for value in values:  # one mailbox or number once, whatever its spelling
        if value.lower() not in seen:
            seen.add(value.lower())
            unique.append(value)
    values = unique
    if len(values) > MAX_RECIPIENTS:
        fields.error(name, f"At most {MAX_RECIPIENTS} entries.")
        return None
    return values


def read_settings(fields, current, form=False):
    """The settings present in the input, validated against `current` (the shop's settings as a
    dict). A form sends every field (an absent checkbox is false); JSON sends any subset."""
    changes = {}
    # A form sends its checkboxes only when checked: an absent one is false. Other fields keep
    # their value when absent.
    present = [f for f in SETTINGS_FIELDS if fields.has(f) or (form and f in CHECKBOXES)]
    for name in present:
        if name in CHECKBOXES:
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
        elif name == "email_recipients":
            changes[name] = _emails(fields, name)
        elif name in ("whatsapp_numbers", "sms_numbers"):
            changes[name] = _numbers(fields, name)
        elif name == "delivery_mode":
            changes[name] = fields.choice(name, ("instant", "digest"), required=True)
        elif name == "digest_time":
            value = fields.text(name, required=True, max_length=5)
            if value is not None and not _DIGEST_TIME.fullmatch(value):
                fields.error(name, "Must be a time of day as HH:MM (24-hour), e.g. 09:00.")
            changes[name] = value
    for channel, recipients in (("email", "email_recipients"), ("whatsapp", "whatsapp_numbers"),
                                ("sms", "sms_numbers")):
        merged = {**current, **changes}
        if merged[f"{channel}_enabled"] and not merged[recipients] and recipients not in fields.errors:
            fields.error(recipients, f"Add at least one recipient to turn {channel} on.")
    return changes


def save_settings(client_id, changes):
    settings = get_settings(client_id)
    if changes.get("delivery_mode") == "digest" and settings.delivery_mode != "digest":
        # What went out one by one before the switch is not listed again in the first digest.
        settings.last_digest_at = utcnow()
    if "timezone" in changes:
        settings.client.timezone = changes.pop("timezone")
    for key, value in changes.items():
        setattr(settings, key, value)
    settings.updated_at = utcnow()
    db.session.commit()
    return settings
