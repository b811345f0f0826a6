"""The login throttle, in the database so that every process shares it and a restart keeps it.
Per account: after each failure a delay that doubles (LOGIN_DELAY_SECONDS, 2x, 4x ...), and
LOGIN_LOCKOUT_SECONDS from the LOGIN_MAX_FAILURES-th failure on: slow guessing, never a permanent
lock a stranger can hold. Per address: LOGIN_ADDRESS_MAX_FAILURES failures, then the lock-out.
An attempt on an account with failures claims it first (a conditional UPDATE), so parallel
guesses get one password check per delay; a small semaphore bounds the hashes run at once."""
import math
import threading
from contextlib import contextmanager
from datetime import timedelta

from flask import current_app
from sqlalchemy import and_, case, delete, or_, select, update

from ..dialect import insert
from ..errors import ApiError
from ..extensions import db
from ..timeutil import utcnow
from .models import LoginAttempt

KEEP = timedelta(days=1)  # rows idle this long are pruned


def _retry_after(until, now):
    return max(1, math.ceil((until - now).total_seconds()))


def _blocked(seconds, message):
    return ApiError(429, message, headers={"Retry-After": str(seconds)})


def _delay(config, failures):
    """Seconds to wait after `failures` consecutive failures of one account."""
    if failures >= config["LOGIN_MAX_FAILURES"]:
        return config["LOGIN_LOCKOUT_SECONDS"]
    return min(config["LOGIN_DELAY_SECONDS"] * 2 ** (failures - 1), config["LOGIN_LOCKOUT_SECONDS"])


def _row(kind, key):
    return and_(LoginAttempt.kind == kind, LoginAttempt.key == key)


def check_address(address, now):
    """429 while this address is blocked (too many failures from it, whatever the account)."""
    until = db.session.execute(select(LoginAttempt.blocked_until).where(_row("address", address))).scalar()
    if until is not None and until > now:
        raise _blocked(_retry_after(until, now), "Too many failed sign-ins from this address; try again later.")


def claim_account(account, now):
    """Take the account's turn: 429 while it waits out a delay. An account with failures is then
    held for the delay the next failure would earn, so that parallel guesses get one password
    check, not one each; one without failures is not held (a shop's tills sign in at once). Committed."""
    config = current_app.config
    db.session.execute(insert(LoginAttempt).values(
        kind="account", key=account, failures=0, last_failure_at=now).on_conflict_do_nothing())
    # Two statements, one transaction: the row stays locked between them, so no one sees the first.
    hold = now + timedelta(seconds=config["LOGIN_LOCKOUT_SECONDS"])
    failures = db.session.execute(
        update(LoginAttempt).where(_row("account", account),
                                   or_(LoginAttempt.blocked_until.is_(None), LoginAttempt.blocked_until <= now))
        .values(blocked_until=case((LoginAttempt.failures > 0, hold), else_=None))
        .returning(LoginAttempt.failures), execution_options={"synchronize_session": False}).scalar()
    if failures is None:
        until = db.session.execute(select(LoginAttempt.blocked_until).where(_row("account", account))).scalar()
        db.session.commit()
        raise _blocked(_retry_after(until or now, now),
                       "Too many failed sign-ins for this email; try again in a moment.")
    if failures:
        db.session.execute(update(LoginAttempt).where(_row("account", account)).values(
            blocked_until=now + timedelta(seconds=_delay(config, failures + 1))),
            execution_options={"synchronize_session": False})
    db.session.commit()


def record_failure(account, address, now):
    """One more failure for the account (its delay doubles) and for the address; old rows pruned."""
    config = current_app.config
    failures = db.session.execute(
        update(LoginAttempt).where(_row("account", account))
        .values(failures=LoginAttempt.failures + 1, last_failure_at=now)
        .returning(LoginAttempt.failures), execution_options={"synchronize_session": False}).scalar() or 1
    db.session.execute(update(LoginAttempt).where(_row("account", account)).values(
        blocked_until=now + timedelta(seconds=_delay(config, failures))),
        execution_options={"synchronize_session": False})
    db.session.execute(insert(LoginAttempt).values(
        kind="address", key=address, failures=0, last_failure_at=now).on_conflict_do_nothing())
    limit, lockout = config["LOGIN_ADDRESS_MAX_FAILURES"], timedelta(seconds=config["LOGIN_LOCKOUT_SECONDS"])
    db.session.execute(update(LoginAttempt).where(_row("address", address)).values(
        failures=LoginAttempt.failures + 1, last_failure_at=now,
        blocked_until=case((LoginAttempt.failures + 1 >= limit, now + lockout), else_=LoginAttempt.blocked_until)),
        execution_options={"synchronize_session": False})
    db.session.execute(delete(LoginAttempt).where(
        LoginAttempt.last_failure_at < now - KEEP,
        or_(LoginAttempt.blocked_until.is_(None), LoginAttempt.blocked_until < now)),
        execution_options={"synchronize_session": False})
    db.session.commit()


def record_success(account):
    db.session.execute(delete(LoginAttempt).where(_row("account", account)),
                       execution_options={"synchronize_session": False})


@contextmanager
def hash_slot():
    """One of the few password checks this process runs at once; 429 at once when all are taken,
    so a flood of sign-ins cannot starve every other request of the CPU."""
    slots = current_app.extensions["login_hash_slots"]
    if not slots.acquire(blocking=False):
        raise _blocked(1, "The server is busy checking passwords; try again in a moment.")
    try:
        yield
    finally:
        slots.release()


def attempt(account, address, check):
    """Run `check()` (the password check, True when right) under the throttle; 429 while blocked."""
    now = utcnow()
    check_address(address, now)
    with hash_slot():
        claim_account(account, now)
        ok = check()
    if ok:
        record_success(account)
        db.session.commit()
    else:
        record_failure(account, address, utcnow())
    return ok


def init_app(app):
    app.extensions["login_hash_slots"] = threading.BoundedSemaphore(app.config["LOGIN_HASH_CONCURRENCY"])
