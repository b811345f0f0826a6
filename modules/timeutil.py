"""Time helpers: the app stores naive UTC datetimes and shows ISO 8601 with an offset."""
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def utcnow() -> datetime:
    """Naive UTC now, the form every timestamp column holds (same on SQLite and PostgreSQL)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def isoformat(value):
    if value is None:
        return None
    return value.replace(tzinfo=timezone.utc).isoformat()


def is_timezone(name) -> bool:
    if not isinstance(name, str) or not name or len(name) > 64:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def shop_time(value, tz_name, fmt="%Y-%m-%d %H:%M"):
    """An instant (naive UTC, or ISO 8601 with an offset) as the shop's local time, zone named."""
    if value is None:
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    local = value.astimezone(ZoneInfo(tz_name))
    return f"{local.strftime(fmt)} {local.tzname()}"


def local_midnight(tz_name: str, now: datetime, days: int = 0) -> datetime:
    """The naive-UTC instant of shop-local midnight `days` days after the shop's today at `now`
    (0: today's start, negative: earlier)."""
    zone = ZoneInfo(tz_name)
    day = local_date(tz_name, now) + timedelta(days=days)
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(timezone.utc).replace(tzinfo=None)


def local_date(tz_name: str, now: datetime):
    """The shop-local calendar date at the naive-UTC instant `now`."""
    return now.replace(tzinfo=timezone.utc).astimezone(ZoneInfo(tz_name)).date()
