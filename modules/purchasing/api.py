"""/api/suppliers, /api/reorder, /api/reports/stock-value and /api/purchase-orders: thin routes over
purchasing's services. Owners and managers only (staff 403); another shop's ids answer 404."""
from flask import jsonify, request
from flask_login import current_user, login_required

from ..auth.tenancy import current_client_id, get_owned_or_404, place_ids, require_manager
from ..dialect import begin_write
from ..errors import ApiError
from ..extensions import db
from ..retail import locations
from ..retail import service as retail
from ..validation import MAX_ID, Fields, QueryArgs, empty_body, json_body
from . import bp, orders, reorder, service
from .forms import SUPPLIER_FIELDS, read_lines, read_supplier
from .models import ORDER_STATUSES, PurchaseOrder, Supplier


def _owned_supplier(supplier_id):
    return get_owned_or_404(Supplier, supplier_id)


@bp.get("/api/suppliers")
@login_required
@require_manager
def api_suppliers():
    return jsonify({"items": service.supplier_dicts(current_client_id())})


@bp.post("/api/suppliers")
@login_required
@require_manager
def api_create_supplier():
    fields = Fields(json_body(SUPPLIER_FIELDS))
    values = read_supplier(fields, creating=True)
    fields.check()
    supplier = service.save_supplier(current_client_id(), current_user.id, values)
    db.session.commit()
    return jsonify(supplier.to_dict()), 201


@bp.get("/api/suppliers/<int:supplier_id>")
@login_required
@require_manager
def api_supplier(supplier_id):
    return jsonify(_owned_supplier(supplier_id).to_dict())


@bp.patch("/api/suppliers/<int:supplier_id>")
@login_required
@require_manager
def api_update_supplier(supplier_id):
    supplier = _owned_supplier(supplier_id)
    fields = Fields(json_body(SUPPLIER_FIELDS))
    values = read_supplier(fields, creating=False)
    fields.check()
    service.save_supplier(supplier.client_id, current_user.id, values, supplier)
    db.session.commit()
    return jsonify(supplier.to_dict())


@bp.delete("/api/suppliers/<int:supplier_id>")
@login_required
@require_manager
def api_delete_supplier(supplier_id):
    supplier = _owned_supplier(supplier_id)
    if service.has_orders(supplier):
        raise ApiError(409, f"{supplier.name} has purchase orders: it cannot be deleted.",
                       {"supplier": "Has purchase orders."})
    service.delete_supplier(supplier, current_user.id)
    db.session.commit()
    return "", 204


def read_reorder_args():
    """?supplier_id= and ?location_id=: another shop's ids, or a location the caller may not see,
    answer 404 (as /api/products?location_id= does)."""
    args = QueryArgs(request.args)
    supplier_id = args.integer("supplier_id", None, 1, MAX_ID)
    location_id = args.integer("location_id", None, 1, MAX_ID)
    args.check()
    if supplier_id is not None:
        _owned_supplier(supplier_id)
    if location_id is not None:
        locations.get_location(current_client_id(), location_id, place_ids())
    return supplier_id, location_id


@bp.get("/api/reorder")
@login_required
@require_manager
def api_reorder():
    client_id = current_client_id()
    supplier_id, location_id = read_reorder_args()
    ids = place_ids()
    items = reorder.reorder_items(client_id, supplier_id=supplier_id, location_id=location_id, ids=ids)
    shown = retail.product_dicts(client_id, [i["product"] for i in items], location_id=location_id, ids=ids)
    return jsonify({"items": reorder.reorder_dicts(items, shown)})


@bp.get("/api/reports/stock-value")
@login_required
@require_manager
def api_stock_value():
    args = QueryArgs(request.args)
    location_id = args.integer("location_id", None, 1, MAX_ID)
    args.check()
    ids = place_ids()  # a person limited to some places: their value, never the whole shop's
    if location_id is not None:
        locations.get_location(current_client_id(), location_id, ids)
    return jsonify(service.stock_value(current_client_id(), location_id, ids))


# --- purchase orders ------------------------------------------------------------------------------

def _owned_order(order_id, for_update=False):
    return orders.check_place(get_owned_or_404(PurchaseOrder, order_id, for_update=for_update), place_ids())


def _supplier_from(data):
    fields = Fields(data)
    supplier_id = fields.integer("supplier_id", required=True, minimum=1, maximum=MAX_ID)
    fields.check()
    return _owned_supplier(supplier_id)


def _location_from(data):
    """The body's `location_id`: one of the shop's locations the caller sees (else 404), or None
    (the shop's default)."""
    fields = Fields(data)
    location_id = fields.integer("location_id", minimum=1, maximum=MAX_ID, nullable=True)
    fields.check()
    if location_id is not None:
        locations.get_location(current_client_id(), location_id, place_ids())
    return location_id


@bp.post("/api/purchase-orders")
@login_required
@require_manager
def api_create_order():
    data = json_body({"supplier_id", "location_id", "lines"})
    begin_write()  # SQLite: a writer from the start, so the next number is read under the write lock
    supplier = _supplier_from(data)
    location_id = orders.receiving_location(supplier.client_id, _location_from(data), place_ids())
    lines = read_lines(supplier.client_id, data)
    order = orders.create_order(supplier.client_id, current_user.id, supplier, lines, location_id)
    db.session.commit()
    return jsonify(orders.order_dict(order)), 201


@bp.post("/api/purchase-orders/from-reorder")
@login_required
@require_manager
def api_order_from_reorder():
    begin_write()
    data = json_body({"supplier_id", "location_id"})
    supplier = _supplier_from(data)
    order = orders.create_from_reorder(supplier.client_id, current_user.id, supplier,
                                       orders.receiving_location(supplier.client_id, _location_from(data), place_ids()))
    db.session.commit()
    return jsonify(orders.order_dict(order)), 201


@bp.get("/api/purchase-orders")
@login_required
@require_manager
def api_orders():
    args = QueryArgs(request.args)
    status = args.choice("status", ORDER_STATUSES)
    args.check()
    found = orders.list_orders(current_client_id(), status, place_ids())
    return jsonify({"items": [orders.order_dict(o) for o in found]})


@bp.get("/api/purchase-orders/<int:order_id>")
@login_required
@require_manager
def api_order(order_id):
    return jsonify(orders.order_dict(_owned_order(order_id)))


@bp.patch("/api/purchase-orders/<int:order_id>")
@login_required
@require_manager
def api_update_order(order_id):
    order = _owned_order(order_id, for_update=True)
    data = json_body({"lines"})
    lines = read_lines(order.client_id, data)
    orders.update_lines(order, current_user.id, lines)
    db.session.commit()
    return jsonify(orders.order_dict(order))


@bp.post("/api/purchase-orders/<int:order_id>/send")
@login_required
@require_manager
def api_send_order(order_id):
    empty_body()
    order = _owned_order(order_id, for_update=True)
    orders.send_order(order, current_user.id, current_user.email)
    db.session.commit()
    return jsonify(orders.order_dict(order)), 202


@bp.post("/api/purchase-orders/<int:order_id>/receive")
@login_required
@require_manager
def api_receive_order(order_id):
    order = _owned_order(order_id, for_update=True)
    data = json_body({"lines"})
    lines = read_lines(order.client_id, data, with_cost=False)
    orders.receive(order, current_user.id, [(product.id, quantity) for product, quantity, _ in lines])
    db.session.commit()
    return jsonify(orders.order_dict(order))


@bp.post("/api/purchase-orders/<int:order_id>/cancel")
@login_required
@require_manager
def api_cancel_order(order_id):
    empty_body()
    order = _owned_order(order_id, for_update=True)
    orders.cancel(order, current_user.id)
    db.session.commit()
    return jsonify(orders.order_dict(order))
