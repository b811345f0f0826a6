"""Who may manage whom (API.md, Tenancy): owners manage everyone, managers manage staff only,
nobody changes their own role, and a shop always keeps one active owner, decided under a lock."""
from functools import wraps

from flask_login import current_user
from sqlalchemy import func, select

from ..dialect import name as dialect_name
from ..errors import ApiError
from ..extensions import db
from .models import Client, User


def may_manage(actor, role) -> bool:
    """Whether `actor` may create, change, deactivate or reset the password of a user of `role`."""
    return actor.role == "owner" or (actor.role == "manager" and role == "staff")


def check_may_manage(actor, role):
    if not may_manage(actor, role):
        raise ApiError(403, "Managers manage staff only; owners manage everyone."
                       if actor.role == "manager" else "Only owners and managers can manage users.")


def require_owner(view):
    """Owners only; managers and staff get 403."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        if current_user.role != "owner":
            raise ApiError(403, "Only owners can do this.")
        return view(*args, **kwargs)

    return wrapped


def lock_shop(client_id):
    """Serialise changes of a shop's owners: PostgreSQL locks the shop's row until the transaction
    ends; SQLite starts a write transaction at once (BEGIN IMMEDIATE), so the count that follows is
    the newest and nobody else writes before we commit. Objects loaded before are expired."""
    db.session.commit()  # BEGIN IMMEDIATE must open the transaction, not join one
    if dialect_name() == "sqlite":
        db.session.connection().exec_driver_sql("BEGIN IMMEDIATE")
    else:
        db.session.execute(select(Client.id).where(Client.id == client_id).with_for_update())


def check_keeps_an_owner(user):
    """Under `lock_shop`: 409 unless another active owner remains once `user` stops being one."""
    others = db.session.execute(
        select(func.count()).select_from(User).where(
            User.client_id == user.client_id, User.role == "owner", User.active.is_(True), User.id != user.id)
    ).scalar_one()
    if others < 1:
        db.session.rollback()
        raise ApiError(409, "A shop must keep at least one active owner.")
