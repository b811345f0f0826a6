"""Sessions that end: the session id is "<user id>:<session version>", in the session cookie and
the remember cookie alike, so bumping a user's version ends every copy of every session at once."""
from flask import current_app, g, request, session
from flask_login import login_user, logout_user
from sqlalchemy import update

from ..extensions import db, login_manager
from .models import User

MAX_ID = 2**31 - 1
SESSION_KEY = "_user_id"  # where Flask-Login keeps the session id in the session
# `load_user`'s rule as SQL over `users AS u`, for the paths that skip the ORM load (the bell).
LIVE_USER = "u.id = :user_id AND u.session_version = :version AND u.active = :active"


def parse_session_id(session_id):
    """(user id, session version) from "<id>:<version>", or None for anything else (whatever a
    cookie's JSON held: a number, a list, nothing)."""
    if not isinstance(session_id, str):
        return None
    user_id, _, version = session_id.partition(":")
    if not (user_id.isdigit() and version.isdigit()) or not 0 < int(user_id) <= MAX_ID or len(version) > 9:
        return None
    return int(user_id), int(version)


@login_manager.user_loader
def load_user(session_id):
    """One query by primary key: an unknown, inactive or stale id is nobody."""
    parsed = parse_session_id(session_id)
    if parsed is None:
        return None
    user = db.session.get(User, parsed[0])
    if user is None or not user.active or user.session_version != parsed[1]:
        return None
    return user


def _forget_csrf():
    """Flask-WTF keeps its raw token in the session (and caches it in g): a new session gets a new one."""
    field = current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
    session.pop(field, None)
    g.pop(field, None)


def start_session(user, remember=False, fresh_csrf=True):
    if fresh_csrf:
        _forget_csrf()
    login_user(user, remember=remember)


def end_session():
    logout_user()
    _forget_csrf()


def end_every_session(user):
    """Bump the user's session version: every session and remember cookie of theirs stops working.
    The caller commits."""
    db.session.execute(update(User).where(User.id == user.id).values(session_version=User.session_version + 1),
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
    end_session()
