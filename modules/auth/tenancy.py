"""The tenant scope, in one place: the shop comes from the signed-in user, never from the request.

Every read of a shop-owned row goes through `scoped()` or `get_owned_or_404()`; another shop's
id answers 404 exactly like an id that does not exist.
"""
from functools import wraps

from flask import abort
from flask_login import current_user

from ..errors import ApiError
from ..dialect import lock_for_write
from ..extensions import db


def current_client_id() -> int:
    return current_user.client_id


def scoped(model):
    """A select of `model` limited to the signed-in user's shop."""
    return db.select(model).where(model.client_id == current_client_id())


def get_owned_or_404(model, id_, for_update=False):
    """The signed-in shop's row, or 404. `for_update` locks it until the transaction ends, so a
    read-modify-write (a stock count) cannot interleave with another."""
    stmt = scoped(model).where(model.id == id_)
    if for_update:
        lock_for_write(model, id_)
        stmt = stmt.with_for_update(of=model)
    row = db.session.execute(stmt).unique().scalar_one_or_none()
    if row is None:
        abort(404)
    return row


def require_manager(view):
    """Owners and managers only; staff get 403."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        if not current_user.can_manage:
            raise ApiError(403, "Only owners and managers can do this.")
        return view(*args, **kwargs)

    return wrapped
