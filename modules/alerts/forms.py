"""Reading a snooze out of a JSON body or a form: `{days}`, `{until}` or `{forever: true}`."""
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from ..timeutil import local_midnight
from ..validation import Fields

MAX_SNOOZE_DAYS = 365
SNOOZE_FIELDS = ("days", "until", "forever")


def _parse_until(fields, tz_name, now):
    raw = fields.text("until", required=True, max_length=40)
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        fields.error("until", "Must be a date and time in ISO 8601, e.g. 2026-12-01T09:00:00+01:00.")
        return None
    if value.tzinfo is None:  # a time without an offset is the shop's own
        value = value.replace(tzinfo=ZoneInfo(tz_name))
    until = value.astimezone(timezone.utc).replace(tzinfo=None)
    if until <= now:
        fields.error("until", "Must be in the future.")
        return None
    if until > now + timedelta(days=MAX_SNOOZE_DAYS):
        fields.error("until", f"Must be at most {MAX_SNOOZE_DAYS} days ahead (mute the product for longer).")
        return None
    return until


def read_snooze(fields: Fields, tz_name, now):
    """(snoozed_until, muted) from exactly one of days, until and forever."""
    given = [name for name in SNOOZE_FIELDS if fields.has(name) and fields.data.get(name) not in (None, "")]
    if len(given) != 1:
        fields.error(given[1] if len(given) > 1 else "days", "Give exactly one of days, until and forever.")
        return None, False
    if given == ["days"]:
        days = fields.integer("days", required=True, minimum=1, maximum=MAX_SNOOZE_DAYS)
        # "1 day" ends when tomorrow starts in the shop, whatever the time of day now.
        return (local_midnight(tz_name, now, days) if days else None), False
    if given == ["until"]:
        return _parse_until(fields, tz_name, now), False
    forever = fields.boolean("forever")
    if forever is not True and "forever" not in fields.errors:
        fields.error("forever", "Must be true (end a snooze with DELETE).")
    return None, True
