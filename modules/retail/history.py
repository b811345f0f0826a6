"""A product's stock history: its movements page by page (who, when, through what) and its
stock over a window of days, the input of its chart."""
from ..auth.models import User
from ..auth.tenancy import at_places, for_shop
from ..extensions import db
from ..timeutil import isoformat
from .models import Location, StockMovement


def movement_history(client_id, product_id, limit=20, before_id=None, ids=None):
    """One page of a product's movements (at the locations `ids` when given), newest first, each
    with who made it ({id, email} or None) and where: one query, keyed by the (client_id,
    product_id, id) index. `stock_after` is the stock at the movement's location."""
    stmt = (for_shop(StockMovement, client_id, StockMovement, User.email, Location.name)
            .outerjoin(User, User.id == StockMovement.user_id)
            .outerjoin(Location, Location.id == StockMovement.location_id)
            .where(StockMovement.product_id == product_id))
    stmt = at_places(stmt, StockMovement.location_id, ids)
    if before_id is not None:
        stmt = stmt.where(StockMovement.id < before_id)
    rows = db.session.execute(stmt.order_by(StockMovement.id.desc()).limit(limit)).all()
    return [{"id": m.id, "delta": m.delta, "stock_after": m.stock_after, "reason": m.reason,
             "user": {"id": m.user_id, "email": email} if m.user_id is not None else None,
             "source": m.source, "note": m.note,
             "location": {"id": m.location_id, "name": place} if m.location_id is not None else None,
             "created_at": isoformat(m.created_at)}
            for m, email, place in rows]


def stock_series(product, since):
    """(stock at `since`, [(instant, stock after)] of the movements since then, oldest first, the
    instant the series begins): `since`, or the product's creation (or first movement) when later."""
    of_product = for_shop(StockMovement, product.client_id).where(StockMovement.product_id == product.id)
    changes = db.session.execute(
        of_product.with_only_columns(StockMovement.created_at, StockMovement.stock_after, StockMovement.delta)
        .where(StockMovement.created_at >= since).order_by(StockMovement.id)).all()
    before = db.session.execute(
        of_product.with_only_columns(StockMovement.stock_after).where(StockMovement.created_at < since)
        .order_by(StockMovement.id.desc()).limit(1)).scalar_one_or_none()
    begins = since
    if before is None:  # nothing before `since`: the product may be younger than the window
        before = changes[0].stock_after - changes[0].delta if changes else product.stock
        begins = max(since, min([product.created_at] + [c.created_at for c in changes[:1]]))
    return before, [(c.created_at, c.stock_after) for c in changes], begins
