"""Purchase orders through their life: drafted (by hand or from the reorder list), edited while a
draft, sent (announced; delivery mails the supplier), received whole or in parts (stock added
through retail's own stock change, reason `delivery`, the order's number as the movement's
note), cancelled. Each step is audited in the caller's transaction; the caller commits."""
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ..auth import audit
from ..auth.models import Client
from ..auth.tenancy import at_places, for_shop
from ..errors import ApiError
from ..extensions import db
from ..retail import locations
from ..retail import service as retail
from ..timeutil import isoformat, utcnow
from . import reorder, rules, service
from .models import PurchaseOrder, PurchaseOrderLine
from .signals import order_sent

NUMBER_ATTEMPTS = 10


def _conflict(order, doing):
    return ApiError(409, f"{order.label} is {order.status.replace('_', ' ')}: it cannot be {doing}.",
                    {"status": order.status})


def _next_number(client_id):
    return db.session.execute(for_shop(PurchaseOrder, client_id, func.coalesce(func.max(PurchaseOrder.number), 0))
                              ).scalar_one() + 1


def create_order(client_id, user_id, supplier, lines, location_id=None):
    """A draft to `supplier` of `lines` [(product, quantity, unit_cost or None)], to be received at
    `location_id` (one the caller checked; the shop's default when None); a line without a
    cost takes the product's cost price. The number is the shop's next one: the UNIQUE (client_id,
    number) decides between two orders made at once, and the loser takes the following number."""
    location_id = location_id or locations.default_location_id(client_id)
    for attempt in range(NUMBER_ATTEMPTS):
        savepoint = db.session.begin_nested()
        order = PurchaseOrder(client_id=client_id, number=_next_number(client_id), supplier=supplier,
                              status="draft", created_by=user_id, location_id=location_id)
        db.session.add(order)
        try:
            db.session.flush()
        except IntegrityError:
            savepoint.rollback()
            if attempt == NUMBER_ATTEMPTS - 1:
                raise
            continue
        savepoint.commit()
        break
    _set_lines(order, lines)
    audit.record(client_id, user_id, "purchase_order.create", f"{order.label}: {supplier.name}",
                 {"lines": [None, len(lines)]})
    return order


def _set_lines(order, lines):
    if order.lines:  # the old lines go first: (order, product) is unique and the ORM inserts before it deletes
        order.lines = []
        db.session.flush()
    order.lines = [PurchaseOrderLine(client_id=order.client_id, product=product, product_id=product.id,
                                     quantity=quantity,
                                     unit_cost=unit_cost if unit_cost is not None else product.cost_price)
                   for product, quantity, unit_cost in lines]
    db.session.flush()


def receiving_location(client_id, location_id=None, ids=None):
    """Where an order (from the reorder list or not) is received: `location_id` (404 when it is not
    one of the caller's locations `ids`), else the caller's only location, else the shop's default; a
    caller limited to several locations, the default not among them, must name one (400). An
    inactive location takes no order (409): it could not receive it."""
    if location_id is not None:
        place = locations.get_location(client_id, location_id, ids)
        if not place.active:
            raise ApiError(409, f"{place.name} is inactive: make it active again to order for it.",
                           {"location_id": "Inactive."})
        return place.id
    if ids is not None and len(ids) == 1:
        return ids[0]
    default = locations.default_location_id(client_id)
    if ids is None or default in ids:
        return default
    raise ApiError(400, "Name the location to order for.", {"location_id": "Required: you work at several locations."})


def create_from_reorder(client_id, user_id, supplier, location_id=None):
    """A draft of `supplier`'s lines on the reorder list at `location_id` (one the caller checked;
    the shop's default when None), with that place's suggested quantities, received there."""
    location_id = location_id or locations.default_location_id(client_id)
    items = reorder.reorder_items(client_id, supplier_id=supplier.id, location_id=location_id)
    if not items:
        raise ApiError(400, f"Nothing of {supplier.name} is on the reorder list.",
                       {"supplier_id": "No reorder lines for this supplier."})
    return create_order(client_id, user_id, supplier,
                        [(item["product"], item["suggested_quantity"], None) for item in items], location_id)


def update_lines(order, user_id, lines):
    if order.status != "draft":
        raise _conflict(order, "edited")
    before = len(order.lines)
    _set_lines(order, lines)
    audit.record(order.client_id, user_id, "purchase_order.update", order.label, {"lines": [before, len(lines)]})


def order_message(order, user_email):
    """What the supplier's email says: plain data for the outbox's payload."""
    shop = db.session.execute(select(Client.name).where(Client.id == order.client_id)).scalar_one()
    return {
        "id": order.id, "number": order.label, "shop": shop, "currency": service.currency(order.client_id),
        "supplier": {"name": order.supplier.name, "email": order.supplier.email},
        "reply_to": user_email,
        "lines": [{"product": line.product.name, "sku": line.product.sku, "quantity": line.quantity,
                   "unit_cost": rules.money(line.unit_cost),
                   "line_cost": rules.money(line.unit_cost * line.quantity) if line.unit_cost is not None else None}
                  for line in order.lines],
        "total_cost": total_cost(order),
    }


def send_order(order, user_id, user_email, now=None):
    """A draft marked sent and announced (delivery queues the supplier's email)."""
    if order.status != "draft":
        raise _conflict(order, "sent")
    if not order.supplier.email:
        raise ApiError(409, f"{order.supplier.name} has no email address: add one to send the order.",
                       {"supplier": "No email address."})
    if not order.lines:
        raise ApiError(409, f"{order.label} has no lines.", {"lines": "Empty."})
    now = now or utcnow()
    order.status, order.sent_at = "sent", now
    db.session.flush()
    audit.record(order.client_id, user_id, "purchase_order.send", order.label,
                 {"status": ["draft", "sent"], "to": [None, order.supplier.email]})
    order_sent.send(None, client_id=order.client_id, order=order_message(order, user_email), now=now)


def receive(order, user_id, received):
    """Add `received` [(product_id, quantity)] to the stock, each as a `delivery` movement noting the
    order's number. More than ordered is allowed and recorded. An inactive place takes no stock
    (409, as a stock change there): a product's stock is the sum over the active places."""
    if order.status not in ("sent", "partially_received"):
        raise _conflict(order, "received")
    place = locations.get_location(order.client_id, _place_id(order))
    if not place.active:
        raise ApiError(409, f"{place.name} is inactive: make it active again to receive {order.label} there.",
                       {"location": "Inactive."})
    by_product = {line.product_id: line for line in order.lines}
    unknown = [pid for pid, _ in received if pid not in by_product]
    if unknown:
        raise ApiError(400, f"Product {unknown[0]} is not on {order.label}.", {"lines": "Not on this order."})
    for product_id, quantity in received:
        line = by_product[product_id]
        retail.change_stock(line.product, user_id, "delivery", delta=quantity, note=order.label,
                            location_id=place.id)
        line.received += quantity
    before = order.status
    done = all(line.received >= line.quantity for line in order.lines)
    order.status = "received" if done else "partially_received"
    if done:
        order.received_at = utcnow()
    db.session.flush()
    audit.record(order.client_id, user_id, "purchase_order.receive", order.label,
                 {"status": [before, order.status], "units": [None, sum(q for _, q in received)]})


def cancel(order, user_id):
    if order.status in ("received", "cancelled"):
        raise _conflict(order, "cancelled")
    before = order.status
    order.status, order.cancelled_at = "cancelled", utcnow()
    db.session.flush()
    audit.record(order.client_id, user_id, "purchase_order.cancel", order.label, {"status": [before, "cancelled"]})


def total_cost(order):
    costs = [line.unit_cost * line.quantity for line in order.lines if line.unit_cost is not None]
    return rules.money(sum(costs, Decimal(0)))


def _location(order):
    """{id, name} of where the order is received."""
    location_id = order.location_id or locations.default_location_id(order.client_id)
    return locations.get_location(order.client_id, location_id).brief()


def order_dict(order):
    return {
        "id": order.id, "number": order.label, "status": order.status,
        "supplier": order.supplier.brief(), "location": _location(order),
        "lines": [{"product": {"id": line.product.id, "name": line.product.name, "sku": line.product.sku},
                   "quantity": line.quantity, "received": line.received, "unit_cost": rules.money(line.unit_cost)}
                  for line in order.lines],
        "total_cost": total_cost(order),
        "created_at": isoformat(order.created_at), "sent_at": isoformat(order.sent_at),
        "received_at": isoformat(order.received_at),
    }


def _place_id(order):
    """Where the order is received (an order made before locations: the shop's default)."""
    return order.location_id or locations.default_location_id(order.client_id)


def check_place(order, ids):
    """A person limited to the locations `ids` sees and changes only their places' orders (receiving
    is a stock change there): another place's order answers 404, as that place's id does."""
    if ids is not None and _place_id(order) not in ids:
        raise ApiError(404, "Not found.")
    return order


def list_orders(client_id, status=None, ids=None):
    """The shop's orders, newest number first (those received at the locations `ids` when given)."""
    stmt = at_places(for_shop(PurchaseOrder, client_id), PurchaseOrder.location_id, ids)
    if status:
        stmt = stmt.where(PurchaseOrder.status == status)
    return db.session.execute(stmt.order_by(PurchaseOrder.number.desc())).unique().scalars().all()
