"""Limits kept in the database, so that every process shares them: test messages per shop,
channel and hour; messages per shop and shop-local day (SHOP_DAILY_MESSAGE_CAP)."""
from datetime import timedelta

from sqlalchemy import delete, update

from ..dialect import insert
from ..extensions import db
from ..timeutil import local_date
from .models import RateLimit

TESTS_PER_HOUR = 5


def take(client_id, name, period, limit, amount=1):
    """Count `amount` against the limit if it fits (one conditional UPDATE: two processes cannot
    both take the last one). The caller commits."""
    db.session.execute(insert(RateLimit).values(client_id=client_id, name=name, period=period, count=0)
                       .on_conflict_do_nothing(index_elements=["client_id", "name", "period"]))
    taken = db.session.execute(
        update(RateLimit).where(RateLimit.client_id == client_id, RateLimit.name == name, RateLimit.period == period,
                                RateLimit.count + amount <= limit)
        .values(count=RateLimit.count + amount), execution_options={"synchronize_session": False})
    return taken.rowcount == 1


def take_test(client_id, channel, now):
    """(True, 0), or (False, seconds until the next hour) past TESTS_PER_HOUR this hour."""
    hour = now.replace(minute=0, second=0, microsecond=0)
    if take(client_id, f"test:{channel}", hour.strftime("%Y-%m-%dT%H"), TESTS_PER_HOUR):
        return True, 0
    return False, max(1, int((hour + timedelta(hours=1) - now).total_seconds()))


def take_message(client_id, tz_name, now, cap):
    """Whether the shop may send one more message today (its own calendar day)."""
    return take(client_id, "messages", local_date(tz_name, now).isoformat(), cap)


def prune(now):
    """Drop counters of periods that ended more than two days ago (ISO strings sort by time)."""
    cutoff = (now - timedelta(days=2)).strftime("%Y-%m-%d")
    db.session.execute(delete(RateLimit).where(RateLimit.period < cutoff))
