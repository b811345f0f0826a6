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


def stock_series(product, since, location_ids=None, now_stock=None):
    """(stock at `since`, [(instant, stock after)] of the movements since then, oldest first, the
    instant the series begins): `since`, or the product's creation (or first movement) when later.
    At one location (`location_ids` of one) the movements' `stock_after` is that place's stock;
    over several places or the whole shop (None) the series is summed from the deltas back from
    `now_stock` (default: the product's whole stock), since each place's `stock_after` is its own."""
    of_product = for_shop(StockMovement, product.client_id).where(StockMovement.product_id == product.id)
    of_product = at_places(of_product, StockMovement.location_id, location_ids)
    now_stock = product.stock if now_stock is None else now_stock
    changes = db.session.execute(
        of_product.with_only_columns(StockMovement.created_at, StockMovement.stock_after, StockMovement.delta)
        .where(StockMovement.created_at >= since).order_by(StockMovement.id)).all()
    if location_ids is not None and len(location_ids) == 1:
        before = db.session.execute(
            of_product.with_only_columns(StockMovement.stock_after).where(StockMovement.created_at < since)
            .order_by(StockMovement.id.desc()).limit(1)).scalar_one_or_none()
        series = [(c.created_at, c.stock_after) for c in changes]
        older = before is not None
        if before is None:
            before = changes[0].stock_after - changes[0].delta if changes else now_stock
    else:
        older = db.session.execute(of_product.with_only_columns(StockMovement.id)
                                   .where(StockMovement.created_at < since).limit(1)).first() is not None
        before = now_stock - sum(c.delta for c in changes)
        series, running = [], before
        for c in changes:
            running += c.delta
            series.append((c.created_at, running))
    begins = since
    if not older:  # nothing before `since`: the product may be younger than the window
        begins = max(since, min([product.created_at] + [c.created_at for c in changes[:1]]))
    return before, series, begins
