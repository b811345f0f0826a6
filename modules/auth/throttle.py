"""The sign-in throttle, in the database so that every process shares it and a restart keeps it,
after OWASP's device cookies: no stranger can lock anyone out, and guessing stays slow.

Counters (`login_attempts`, by kind and key):
- "pair": an account from one address. After each failure a delay that doubles from
  LOGIN_DELAY_SECONDS, and LOGIN_LOCKOUT_SECONDS from the LOGIN_MAX_FAILURES-th failure on.
- "account": an account from browsers without its device cookie, any address. Free for
  LOGIN_ACCOUNT_FREE_FAILURES failures, then a delay that doubles from LOGIN_DELAY_SECONDS up to
  LOGIN_LOCKOUT_SECONDS: an attack from many addresses meets a growing delay, never a lock.
- "device": one browser's device cookie for the account (auth/devices.py), the pair's schedule.
- "address": failures from an address, any account; past LOGIN_ADDRESS_MAX_FAILURES the address
  waits LOGIN_LOCKOUT_SECONDS, unless the browser has the account's device cookie.
A sign-in with the account's device cookie meets only its own "device" counter; without it, the
pair, the account and the address. A counter with failures is claimed before the password check
(a conditional UPDATE), so parallel guesses get one check per delay.

Password checks are bounded per process (LOGIN_HASH_CONCURRENCY, fewer than the server's threads):
a sign-in or sign-up takes one of the slots in `gate`, or is answered 429 at once."""
import math
from contextlib import contextmanager
from datetime import timedelta

from flask import current_app, request
from sqlalchemy import and_, case, delete, or_, select, update

from ..dialect import insert
from ..errors import ApiError
from ..extensions import db
from ..timeutil import utcnow
from .gate import BUSY, SLOT_KEY
from .models import LoginAttempt

KEEP = timedelta(days=1)  # rows idle this long are pruned
MAX_ADDRESS = 45  # the longest IPv6 text


def _retry_after(until, now):
    return max(1, math.ceil((until - now).total_seconds()))


def _blocked(seconds, message):
    return ApiError(429, message, headers={"Retry-After": str(seconds)})


def _delay(config, kind, failures):
    """Seconds to wait after `failures` failures counted by a counter of `kind`; 0: no wait."""
    if kind == "account":
        failures -= config["LOGIN_ACCOUNT_FREE_FAILURES"]
    elif failures >= config["LOGIN_MAX_FAILURES"]:
        return config["LOGIN_LOCKOUT_SECONDS"]
    if failures <= 0:
        return 0
    return min(config["LOGIN_DELAY_SECONDS"] * 2 ** min(failures - 1, 30), config["LOGIN_LOCKOUT_SECONDS"])


def _held_from(config, kind):
    """From how many failures a counter of `kind` is held during a password check."""
    return config["LOGIN_ACCOUNT_FREE_FAILURES"] if kind == "account" else 1


def _row(kind, key):
    return and_(LoginAttempt.kind == kind, LoginAttempt.key == key)


def counters(account, address, device_nonce):
    """The counters a sign-in meets: its device cookie's alone, or the pair's and the account's."""
    if device_nonce is not None:
        return [("device", device_nonce)]
    return [("pair", f"{account}|{address}"), ("account", account)]


def check_address(address, now):
    """429 while this address is blocked (too many failures from it, whatever the account)."""
    until = db.session.execute(select(LoginAttempt.blocked_until).where(_row("address", address))).scalar()
    if until is not None and until > now:
        raise _blocked(_retry_after(until, now), "Too many failed sign-ins from this address; try again later.")


def claim(rows, now):
    """Take each counter's turn: 429 (nothing changed) while any waits out a delay. A counter that
    the next failure would slow is then held for that delay, so that parallel guesses get one
    password check, not one each; one that it would not is left free (a shop's tills sign in at
    once). Committed."""
    config = current_app.config
    for kind, key in rows:
        db.session.execute(insert(LoginAttempt).values(
            kind=kind, key=key, failures=0, last_failure_at=now).on_conflict_do_nothing())
    hold = now + timedelta(seconds=config["LOGIN_LOCKOUT_SECONDS"])
    waits = []
    for kind, key in rows:
        # Two statements, one transaction: the row stays locked between them, so no one sees the first.
        failures = db.session.execute(
            update(LoginAttempt).where(_row(kind, key),
                                       or_(LoginAttempt.blocked_until.is_(None), LoginAttempt.blocked_until <= now))
            .values(blocked_until=case((LoginAttempt.failures >= _held_from(config, kind), hold), else_=None))
            .returning(LoginAttempt.failures), execution_options={"synchronize_session": False}).scalar()
        if failures is None:  # held by another check, or gone since (a parallel success forgot it): free
            until = db.session.execute(select(LoginAttempt.blocked_until).where(_row(kind, key))).scalar()
            if until is not None and until > now:
                waits.append(until)
        elif failures >= _held_from(config, kind):
            db.session.execute(update(LoginAttempt).where(_row(kind, key)).values(
                blocked_until=now + timedelta(seconds=_delay(config, kind, failures + 1))),
                execution_options={"synchronize_session": False})
    if waits:
        db.session.rollback()
        raise _blocked(max(_retry_after(until or now, now) for until in waits),
                       "Too many failed sign-ins for this email; try again in a moment.")
    db.session.commit()


def record_failure(rows, address, now):
    """One more failure for each counter (its delay grows) and for the address (None: a device
    cookie's failure, counted against it only); old rows pruned."""
    config = current_app.config
    for kind, key in rows:
        failures = db.session.execute(
            update(LoginAttempt).where(_row(kind, key))
            .values(failures=LoginAttempt.failures + 1, last_failure_at=now)
            .returning(LoginAttempt.failures), execution_options={"synchronize_session": False}).scalar() or 1
        delay = _delay(config, kind, failures)
        db.session.execute(update(LoginAttempt).where(_row(kind, key)).values(
            blocked_until=now + timedelta(seconds=delay) if delay else None),
            execution_options={"synchronize_session": False})
    if address is not None:
        db.session.execute(insert(LoginAttempt).values(
            kind="address", key=address, failures=0, last_failure_at=now).on_conflict_do_nothing())
        limit, lockout = config["LOGIN_ADDRESS_MAX_FAILURES"], timedelta(seconds=config["LOGIN_LOCKOUT_SECONDS"])
        db.session.execute(update(LoginAttempt).where(_row("address", address)).values(
            failures=LoginAttempt.failures + 1, last_failure_at=now,
            blocked_until=case((LoginAttempt.failures + 1 >= limit, now + lockout), else_=LoginAttempt.blocked_until)),
            execution_options={"synchronize_session": False})
    prune(now)
    db.session.commit()


def prune(now):
    db.session.execute(delete(LoginAttempt).where(
        LoginAttempt.last_failure_at < now - KEEP,
        or_(LoginAttempt.blocked_until.is_(None), LoginAttempt.blocked_until < now)),
        execution_options={"synchronize_session": False})


def record_success(rows):
    """The right password: this pair's or this device's failures are forgotten; the account's
    count of strangers' failures stays (an attack goes on at its pace), only its hold is lifted."""
    for kind, key in rows:
        if kind == "account":
            db.session.execute(update(LoginAttempt).where(_row(kind, key)).values(blocked_until=None),
                               execution_options={"synchronize_session": False})
        else:
            db.session.execute(delete(LoginAttempt).where(_row(kind, key)),
                               execution_options={"synchronize_session": False})


def forget_account(account):
    """A new password set by an owner is a way back in: no waiting for any browser of `account`.
    The caller commits."""
    db.session.execute(delete(LoginAttempt).where(or_(
        _row("account", account), and_(LoginAttempt.kind == "pair", LoginAttempt.key.startswith(account + "|",
                                                                                                autoescape=True)))),
        execution_options={"synchronize_session": False})


def count_signup(now):
    """One more sign-up from the client's address in its hour: 429 (nothing counted) past
    SIGNUP_PER_ADDRESS_PER_HOUR. The counter is one row per address, a window of an hour from
    its first sign-up, decided by one UPDATE. Committed."""
    limit, address = current_app.config["SIGNUP_PER_ADDRESS_PER_HOUR"], client_address()
    hour = now + timedelta(hours=1)
    db.session.execute(insert(LoginAttempt).values(
        kind="signup", key=address, failures=0, last_failure_at=now, blocked_until=hour).on_conflict_do_nothing())
    over = LoginAttempt.blocked_until <= now  # the window has closed: a new one starts with this sign-up
    count, until = db.session.execute(
        update(LoginAttempt).where(_row("signup", address))
        .values(failures=case((over, 1), else_=LoginAttempt.failures + 1),
                blocked_until=case((over, hour), else_=LoginAttempt.blocked_until), last_failure_at=now)
        .returning(LoginAttempt.failures, LoginAttempt.blocked_until),
        execution_options={"synchronize_session": False}).one()
    if count > limit:
        db.session.rollback()
        raise _blocked(_retry_after(until, now), f"At most {limit} new shops an hour from one address; "
                                                 "try again later.")
    db.session.commit()


def client_address():
    """The client's address (behind TRUSTED_PROXIES proxies, the one they forwarded)."""
    return (request.remote_addr or "unknown")[:MAX_ADDRESS]


def attempt(account, device_nonce, check):
    """Run `check()` (the password check, True when right) under the throttle; 429 while blocked.
    `device_nonce`: this browser's device cookie for the account, or None."""
    now = utcnow()
    address = client_address()
    if device_nonce is None:
        check_address(address, now)
    rows = counters(account, address, device_nonce)
    with hash_slot():
        claim(rows, now)
        ok = check()
    if ok:
        record_success(rows)
        db.session.commit()
    else:
        record_failure(rows, address if device_nonce is None else None, utcnow())
    return ok


@contextmanager
def hash_slot():
    """One of the few password checks this process runs at once; 429 at once when all are taken.
    A request that came through the gate already holds one."""
    if request.environ.get(SLOT_KEY):
        yield
        return
    slots = current_app.extensions["login_hash_slots"]
    if not slots.acquire(blocking=False):
        raise _blocked(1, BUSY)
    try:
        yield
    finally:
        slots.release()
