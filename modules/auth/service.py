"""Shop and user operations that need no request: used by the routes, the CLI and the tests."""
from pathlib import Path

from email_validator import EmailNotValidError, validate_email
from zxcvbn import zxcvbn
from sqlalchemy.exc import IntegrityError
from werkzeug.security import generate_password_hash

from ..errors import ApiError, ValidationError
from ..extensions import db
from ..timeutil import is_timezone
from . import audit, tenancy, throttle
from .models import ROLES, Client, User, UserLocation
from .roles import check_keeps_an_owner, check_may_manage, lock_shop
from .sessions import end_every_session
from .tenancy import for_shop

MIN_PASSWORD = 10
MAX_PASSWORD = 200
MIN_STRENGTH = 3  # zxcvbn's score, 0..4: 3 is "safely unguessable" (about 10^8 guesses and more)
SCORED_LENGTH = 72  # zxcvbn's own bound; the characters past it only add strength
PASSWORD_RULE = f"At least {MIN_PASSWORD} characters, hard to guess, and neither the email nor the shop's name."
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


def check_password_field(fields, name="password", required=True, user_inputs=()):
    """A password that follows the one rule (PASSWORD_RULE, which the pages show): at least
    MIN_PASSWORD characters, scored by zxcvbn at MIN_STRENGTH or more with `user_inputs` (the
    email, the shop's name) as words it knows, and not one of those itself."""
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
    if len(value) > MAX_PASSWORD:
        fields.error(name, f"Must be at most {MAX_PASSWORD} characters.")
        return None
    if not value.strip():
        fields.error(name, "Must not be only spaces.")
        return None
    words = [w.strip().lower() for w in user_inputs if isinstance(w, str) and w.strip()]
    words += [w.split("@", 1)[0] for w in words if "@" in w]
    if value.strip().lower() in words:
        fields.error(name, "Must be neither the email nor the shop's name.")
        return None
    if value.lower() in COMMON_PASSWORDS or value.strip().lower() in COMMON_PASSWORDS:
        fields.error(name, "This is one of the most common passwords; choose another.")
        return None
    result = zxcvbn(value[:SCORED_LENGTH], user_inputs=words)
    if result["score"] < MIN_STRENGTH:
        hint = (result.get("feedback") or {}).get("warning") or "Add more words or characters that are hard to guess."
        fields.error(name, f"Too easy to guess: {hint.rstrip('.')}. Try a few unrelated words.")
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


def check_current_password(fields, user, name="current_password"):
    """A field error unless `name` holds `user`'s current password (a bounded number of hashes at once)."""
    current = fields.data.get(name)
    if not isinstance(current, str) or not current:
        fields.error(name, "This field is required.")
        return
    with throttle.hash_slot():
        right = len(current) <= MAX_PASSWORD and user.check_password(current)
    if not right:
        fields.error(name, "This is not your current password.")


def change_own_password(user, new_password):
    """The user's new password (the current one already checked): every session of theirs ends and
    the caller signs this one in again (`keep_this_session`) after committing."""
    user.set_password(new_password)
    end_every_session(user)
    audit.record(user.client_id, user.id, "user.password_change", f"user {user.id}: {user.email}")


def shop_users(client_id):
    """The shop's people, oldest first."""
    return db.session.execute(for_shop(User, client_id).order_by(User.id)).scalars().all()


def _audit_user(actor, user, before):
    changes = audit.diff(before, {"role": user.role, "active": user.active})
    if changes:
        action = "user.deactivate" if changes.get("active") == [True, False] and len(changes) == 1 else "user.update"
        audit.record(user.client_id, actor.id, action, f"user {user.id}: {user.email}", changes)


def _keep_an_owner(user):
    """Under the shop's lock, 409 (and a rollback) when `user` is the last active owner."""
    lock_shop(user.client_id)
    db.session.refresh(user)
    if user.role == "owner" and user.active:
        check_keeps_an_owner(user)


def change_user(actor, user, role=None, active=None, password=None):
    """`actor` changes another person's role, active flag or password (API.md, Tenancy: owners
    manage everyone, managers staff only, nobody changes their own role, one active owner stays).
    ApiError 400/403/409 when refused, with nothing changed; the caller commits."""
    if user.id == actor.id:
        if role not in (None, user.role) or active is False:
            raise ApiError(400, "You cannot change your own role or deactivate yourself.")
        if password:
            raise ValidationError({"password": "Change your own password with your current one "
                                               "(POST /api/auth/password, or the Account page)."},
                                  "Your own password needs your current one.")
    else:
        check_may_manage(actor, user.role)
        if role:
            check_may_manage(actor, role)
    if user.role == "owner" and user.active and (role not in (None, "owner") or active is False):
        _keep_an_owner(user)
    ends_sessions = (role not in (None, user.role)) or (active is False and user.active) or bool(password)
    before = {"role": user.role, "active": user.active}
    if role:
        user.role = role
    if active is not None:
        user.active = active
    if password:
        user.set_password(password)
        throttle.forget_account(user.email.lower())  # a new password is a way back in: no waiting
    if ends_sessions:  # a new role, a deactivation or a reset password: the old sessions end
        end_every_session(user)
    _audit_user(actor, user, before)
    if password:  # the fact, never the value
        audit.record(user.client_id, actor.id, "user.password_reset", f"user {user.id}: {user.email}")
    return user


def set_places(actor, user, location_ids):
    """`actor` limits another person to some of the shop's locations (empty: every location):
    the same rules as `change_user`; another shop's location is a 404; owners see every location
    whatever is set. A person limited to some places can only give those (another place answers
    them 404, and every place 403). The caller commits."""
    if user.id == actor.id:
        raise ApiError(400, "You cannot change your own locations.")
    check_may_manage(actor, user.role)
    wanted = set(location_ids)
    if tenancy.shop_location_ids(user.client_id, wanted) != wanted:
        raise ApiError(404, "No such location.", {"location_ids": "No such location."})
    mine = tenancy.place_ids(actor)
    if mine is not None and not wanted <= set(mine):  # a place they do not see answers them 404, as its id does
        raise ApiError(404, "No such location.", {"location_ids": "No such location."})
    if mine is not None and not wanted:
        raise ApiError(403, "You can only give the locations you see yourself.", {"location_ids": "Not yours."})
    before = sorted(p.location_id for p in user.places)
    if before == sorted(wanted):
        return user
    user.places = [UserLocation(user_id=user.id, location_id=i, client_id=user.client_id) for i in sorted(wanted)]
    db.session.flush()
    audit.record(user.client_id, actor.id, "user.locations", f"user {user.id}: {user.email}",
                 {"location_ids": [before, sorted(wanted)]})
    return user


def deactivate_user(actor, user):
    """`actor` deactivates another person (their history stays); the same rules as `change_user`."""
    if user.id == actor.id:
        raise ApiError(400, "You cannot deactivate yourself.")
    check_may_manage(actor, user.role)
    if user.role == "owner":
        _keep_an_owner(user)
    if user.active:
        user.active = False
        end_every_session(user)
        _audit_user(actor, user, {"role": user.role, "active": True})
    return user
