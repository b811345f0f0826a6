"""The tenant scope, in one place (Redash's `get_by_id_and_org`): every shop-owned query goes
through `for_shop(Model, client_id)`, which takes the shop as an argument, so that services,
threads and the CLI scope exactly as requests do. In a request the shop comes from the signed-in
user, never from the URL or the body (`scoped()`); another shop's id answers 404 exactly like an
id that does not exist.
"""
from functools import wraps

from flask import abort
from flask_login import current_user
from sqlalchemy import column, func, select, table

from ..errors import ApiError
from ..dialect import lock_for_write
from ..extensions import db


def owned_by(model, client_id):
    """The WHERE clause that keeps `model` to one shop's rows (for an UPDATE or a join)."""
    return model.client_id == client_id


def for_shop(model, client_id, *columns):
    """SELECT `columns` (default: the whole row) of `model`, one shop's rows only."""
    return db.select(*(columns or (model,))).where(owned_by(model, client_id))


def current_client_id() -> int:
    return current_user.client_id


# Retail's locations, read by table name (a higher feature's table: no import up).
LOCATIONS = table("locations", column("id"), column("client_id"), column("active"), column("name"),
                  column("is_default"))


def place_ids(user=None):
    """The locations the caller (a person or a token) is limited to, or None for every location:
    the second half of the scope, beside the shop."""
    user = user if user is not None else current_user
    ids = getattr(user, "location_ids", None)
    return list(ids) if ids else None


def at_places(stmt, location_col, ids):
    """`stmt` kept to the locations `ids` (None: every location)."""
    return stmt if ids is None else stmt.where(location_col.in_(ids))


def shop_location_ids(client_id, ids):
    """The ids among `ids` that are the shop's locations (another shop's are not)."""
    ids = {int(i) for i in ids}
    if not ids:
        return set()
    return set(db.session.execute(select(LOCATIONS.c.id).where(
        LOCATIONS.c.client_id == client_id, LOCATIONS.c.id.in_(ids))).scalars())


def shop_location_names(client_id, ids=None):
    """[(id, name, active)] of the shop's locations (those in `ids` when given), the default first,
    then by name: what a page of this feature names them by."""
    stmt = select(LOCATIONS.c.id, LOCATIONS.c.name, LOCATIONS.c.active).where(LOCATIONS.c.client_id == client_id)
    if ids is not None:
        stmt = stmt.where(LOCATIONS.c.id.in_(list(ids)))
    return [tuple(row) for row in db.session.execute(
        stmt.order_by(LOCATIONS.c.is_default.desc(), func.lower(LOCATIONS.c.name), LOCATIONS.c.id))]


def scoped(model):
    """`for_shop` for the signed-in user's shop."""
    return for_shop(model, current_client_id())


def get_owned_or_404(model, id_, for_update=False):
    """The signed-in shop's row, or 404. `for_update` locks it until the transaction ends, so a
    read-modify-write (a stock count) cannot interleave with another."""
    stmt = scoped(model).where(model.id == id_)
    if for_update:
        lock_for_write(model, model.id == id_, owned_by(model, current_client_id()))
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
