"""Shop and user operations that need no request: used by the routes, the CLI and the tests."""
from pathlib import Path

from email_validator import EmailNotValidError, validate_email
from sqlalchemy.exc import IntegrityError
from werkzeug.security import generate_password_hash

from ..errors import ApiError
from ..extensions import db
from ..timeutil import is_timezone
from . import audit
from .models import ROLES, Client, User

MIN_PASSWORD = 10
MAX_PASSWORD = 200
MAX_EMAIL = 254
COMMON_PASSWORDS = frozenset(
    line.strip().lower() for line in (Path(__file__).with_name("common_passwords.txt")).read_text().splitlines()
    if line.strip() and not line.startswith("#"))


def normalize_email(fields, name="email", required=True):
    """A syntactically valid email, normalized (no DNS look-up: the app works offline)."""
    value = fields.text(name, required=required, max_length=MAX_EMAIL)
    if value is None:
        return None
    try:
        return validate_email(value, check_deliverability=False).normalized.lower()
    except EmailNotValidError as e:
        fields.error(name, str(e))
        return None


def check_password_field(fields, name="password", required=True):
    value = fields.data.get(name)
    if value is None or value == "":
        if required:
            fields.error(name, "This field is required.")
        return None
    if not isinstance(value, str):
        fields.error(name, "Must be a string.")
        return None
    if len(value) < MIN_PASSWORD:
        fields.error(name, f"Must be at least {MIN_PASSWORD} characters.")
        return None
    if not value.strip():
        fields.error(name, "Must not be only spaces.")
        return None
    if value.lower() in COMMON_PASSWORDS or value.strip().lower() in COMMON_PASSWORDS:
        fields.error(name, "This is one of the most common passwords; choose another.")
        return None
    if len(value) > MAX_PASSWORD:
        fields.error(name, f"Must be at most {MAX_PASSWORD} characters.")
        return None
    return value


def read_timezone(fields, name="timezone", required=False):
    value = fields.text(name, required=required, max_length=64)
    if value is not None and not is_timezone(value):
        fields.error(name, "Unknown time zone (use an IANA name such as Europe/Berlin).")
        return None
    return value


def read_role(fields):
    return fields.choice("role", ROLES, required=True)


def email_conflict():
    return ApiError(409, "An account with this email already exists.", {"email": "Already taken."})


def _commit_new_user(user=None, actor_id=None):
    """Commit a new user (with its audit entry when `user` is given); the UNIQUE email decides
    whether it is taken (409), not a look-up first."""
    try:
        db.session.flush()
        if user is not None:
            audit.record(user.client_id, actor_id, "user.create", f"user {user.id}: {user.email}",
                         {"role": [None, user.role]})
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise email_conflict()


def create_shop(name, email, password, timezone="UTC"):
    """A new shop with its owner; ApiError 409 when the email is taken."""
    client = Client(name=name, timezone=timezone or "UTC")
    user = User(client=client, email=email.lower(), role="owner")
    user.set_password(password)
    db.session.add_all([client, user])
    _commit_new_user()
    return client, user


def create_user(client_id, email, password, role, actor_id=None):
    """A new user of a shop, created by `actor_id`; ApiError 409 when the email is taken."""
    user = User(client_id=client_id, email=email.lower(), role=role)
    user.set_password(password)
    db.session.add(user)
    _commit_new_user(user, actor_id)
    return user


_DUMMY = User(password_hash=generate_password_hash("not a password"))


def authenticate(email, password):
    """The active user with this email and password, else None (whatever was wrong)."""
    user = db.session.execute(db.select(User).where(User.email == (email or "").lower())).scalar_one_or_none()
    # Check a hash even for an unknown email, so timing does not tell whether it exists.
    ok = (user or _DUMMY).check_password(password or "")
    if user is None or not user.active or not ok:
        return None
    return user
