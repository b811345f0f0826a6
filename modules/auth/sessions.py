"""Sessions that end. The session id is "<user id>:<session version>:<session key>", in the
session cookie and the remember cookie alike. The key names a row of `user_sessions`, made at
sign-in and deleted by a plain logout, so every copy of that session's cookies stops working
while the user's other sessions go on; bumping the user's version (logout everywhere, a new
password, a new role, a deactivation) ends every session of theirs at once.

Why rows and not Flask-Session's server-side sessions: the cookie stays Flask's signed cookie
(verified by Flask as for any request) and a request still loads
its user in one query (the session row joined to its user); only the fact that a session is
live is kept in the database, not the session's contents."""
import secrets
from datetime import timedelta

from flask import current_app, g, request, session
from flask_login import login_user, logout_user
from sqlalchemy import delete, select, update

from ..extensions import db, login_manager
from ..timeutil import utcnow
from .models import User, UserSession

MAX_ID = 2**31 - 1
SESSION_KEY = "_user_id"  # where Flask-Login keeps the session id in the session
KEY_LENGTH = 43  # secrets.token_urlsafe(32)
# `load_user`'s rule as SQL over `users AS u`, for the paths that skip the ORM load (the bell):
# bind it with `live_user_params(parse_session_id(...))`.
LIVE_USER = ("u.id = :user_id AND u.session_version = :version AND u.active = :active"
             " AND EXISTS (SELECT 1 FROM user_sessions AS us WHERE us.key = :session_key AND us.user_id = u.id)")


def parse_session_id(session_id):
    """(user id, session version, session key) from "<id>:<version>:<key>", or None for anything
    else (whatever a cookie's JSON held: a number, a list, an id from before session keys)."""
    if not isinstance(session_id, str):
        return None
    user_id, _, rest = session_id.partition(":")
    version, _, key = rest.partition(":")
    if not (user_id.isascii() and user_id.isdigit() and version.isascii() and version.isdigit()):
        return None
    if not 0 < int(user_id) <= MAX_ID or len(version) > 9:
        return None
    if len(key) != KEY_LENGTH or not all(c.isascii() and (c.isalnum() or c in "-_") for c in key):
        return None
    return int(user_id), int(version), key


def live_user_params(parsed):
    """The bind parameters of LIVE_USER for a parsed session id."""
    return {"user_id": parsed[0], "version": parsed[1], "session_key": parsed[2], "active": True}


@login_manager.user_loader
def load_user(session_id):
    """One query by primary keys (the session's row joined to its user): an unknown, ended,
    inactive or stale session is nobody."""
    parsed = parse_session_id(session_id)
    if parsed is None:
        return None
    user = db.session.execute(
        select(User).join(UserSession, UserSession.user_id == User.id)
        .where(User.id == parsed[0], UserSession.key == parsed[2])).unique().scalar_one_or_none()
    if user is None or not user.active or user.session_version != parsed[1]:
        return None
    return user


def _forget_csrf():
    """Flask-WTF keeps its raw token in the session (and caches it in g): a new session gets a new one."""
    field = current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
    session.pop(field, None)
    g.pop(field, None)


def _session_lifetime():
    """How long a session row may be needed: as long as a remember cookie lasts."""
    duration = current_app.config.get("REMEMBER_COOKIE_DURATION", timedelta(days=365))
    return duration if isinstance(duration, timedelta) else timedelta(seconds=duration)


def start_session(user, remember=False, fresh_csrf=True):
    """Sign `user` in in this browser with a new session row (committed); the user's rows older
    than a remember cookie are pruned. Marks the answer for a device cookie (auth/devices.py)."""
    from . import devices

    now = utcnow()
    key = secrets.token_urlsafe(32)
    db.session.execute(delete(UserSession).where(UserSession.user_id == user.id,
                                                 UserSession.created_at < now - _session_lifetime()),
                       execution_options={"synchronize_session": False})
    db.session.add(UserSession(key=key, user_id=user.id, created_at=now))
    db.session.commit()
    if fresh_csrf:
        _forget_csrf()
    login_user(user, remember=remember)
    session[SESSION_KEY] = f"{user.id}:{user.session_version}:{key}"
    devices.remember(user)


def _current_key():
    parsed = parse_session_id(session.get(SESSION_KEY))
    return parsed[2] if parsed else None


def end_session():
    """A plain logout: this session's row goes (every copy of its cookies stops working), and
    this browser's cookies are cleared; the user's other sessions go on."""
    key = _current_key()
    if key is not None:
        db.session.execute(delete(UserSession).where(UserSession.key == key),
                           execution_options={"synchronize_session": False})
        db.session.commit()
    logout_user()
    _forget_csrf()


def end_every_session(user):
    """Bump the user's session version and drop their session rows: every session and remember
    cookie of theirs stops working. The caller commits."""
    db.session.execute(update(User).where(User.id == user.id).values(session_version=User.session_version + 1),
                       execution_options={"synchronize_session": False})
    db.session.execute(delete(UserSession).where(UserSession.user_id == user.id),
                       execution_options={"synchronize_session": False})
    db.session.refresh(user, ["session_version"])


def keep_this_session(user):
    """After `end_every_session`, sign this session in again with the new version (same CSRF token)."""
    remember = bool(request.cookies.get(current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token")))
    start_session(user, remember=remember, fresh_csrf=False)


def sign_out_everywhere(user):
    """Every session and remember cookie of `user` ends, this one included. Commits first, so that
    this cookie is cleared only once the other sessions have really ended."""
    end_every_session(user)
    db.session.commit()
    logout_user()
    _forget_csrf()
