"""The purchasing pages (owners and managers): /reorder (what to order, by supplier, with a
"Draft an order" button each), /purchase-orders (by status) and one order's page (edit a draft,
send, receive, cancel), /suppliers. Thin: the same services as the API."""
from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from ..auth.tenancy import current_client_id, get_owned_or_404, place_ids
from ..errors import ApiError
from ..extensions import db
from ..retail import switch
from ..validation import MAX_ID, Fields
from . import bp, orders, reorder, service
from .forms import SUPPLIER_FIELDS, read_supplier
from .models import ORDER_STATUSES, PurchaseOrder, Supplier

ORDER_ACTIONS = ("lines", "send", "receive", "cancel")
STATUS_WORDS = {"draft": "Draft", "sent": "Sent", "partially_received": "Partly received", "received": "Received",
                "cancelled": "Cancelled"}


def _managers_only():
    return render_template("error.html", status=403, message="Only owners and managers can order stock."), 403


def _refused(e, target):
    db.session.rollback()
    details = "; ".join(f"{k}: {v}" for k, v in (e.details or {}).items())
    flash(e.message + (f" ({details})" if details else ""), "error")
    return redirect(target, code=303)


@bp.get("/reorder")
@login_required
def reorder_page():
    """The list at the header switch's place (every place the person sees when none is chosen),
    by supplier; a "Draft an order" per supplier and place."""
    if not current_user.can_manage:
        return _managers_only()
    place = switch.current_place()
    rank = {lid: n for n, (lid, _) in enumerate(place.choices)}
    groups = []
    for item in reorder.reorder_items(current_client_id(), location_id=place.location_id, ids=place.ids):
        supplier = item["supplier"]
        if not groups or groups[-1]["supplier"] is not supplier:
            groups.append({"supplier": supplier, "items": [], "places": []})
        groups[-1]["items"].append(item)
        if item["location"] not in groups[-1]["places"]:
            groups[-1]["places"].append(item["location"])
    for group in groups:
        group["places"].sort(key=lambda loc: rank.get(loc["id"], len(rank)))
    return render_template("purchasing/reorder.html", groups=groups,
                           name_places=place.switch and place.location_id is None)


@bp.post("/reorder/draft")
@login_required
def draft_from_reorder():
    if not current_user.can_manage:
        return _managers_only()
    fields = Fields(request.form, form=True)
    supplier_id = fields.integer("supplier_id", required=True, minimum=1, maximum=MAX_ID)
    location_id = fields.integer("location_id", minimum=1, maximum=MAX_ID)
    try:
        fields.check()
        supplier = get_owned_or_404(Supplier, supplier_id)
        where = orders.receiving_location(supplier.client_id, location_id, place_ids())
        order = orders.create_from_reorder(supplier.client_id, current_user.id, supplier, where)
        db.session.commit()
    except ApiError as e:
        return _refused(e, url_for("purchasing.reorder_page"))
    flash(f"Drafted {order.label} to {supplier.name}: check it, then send it.", "success")
    return redirect(url_for("purchasing.order_page", order_id=order.id), code=303)


@bp.get("/purchase-orders")
@login_required
def orders_page():
    if not current_user.can_manage:
        return _managers_only()
    status = request.args.get("status")
    status = status if status in ORDER_STATUSES else None
    found = orders.list_orders(current_client_id(), status, place_ids())
    return render_template("purchasing/orders.html", orders=found,
                           status=status, statuses=ORDER_STATUSES, words=STATUS_WORDS)


@bp.get("/purchase-orders/<int:order_id>")
@login_required
def order_page(order_id):
    if not current_user.can_manage:
        return _managers_only()
    order = orders.check_place(get_owned_or_404(PurchaseOrder, order_id), place_ids())
    return render_template("purchasing/order.html", order=order, view=orders.order_dict(order), words=STATUS_WORDS)


def _quantities(order, prefix, minimum):
    """[(product, quantity)] from the form's `<prefix><product id>` fields of the order's lines."""
    fields = Fields(request.form, form=True)
    out = []
    for line in order.lines:
        quantity = fields.integer(f"{prefix}{line.product_id}", minimum=minimum, maximum=1_000_000_000)
        if quantity:
            out.append((line.product, quantity))
    fields.check()
    return out


@bp.post("/purchase-orders/<int:order_id>/<action>")
@login_required
def order_action(order_id, action):
    if not current_user.can_manage:
        return _managers_only()
    if action not in ORDER_ACTIONS:
        abort(404)
    order = orders.check_place(get_owned_or_404(PurchaseOrder, order_id, for_update=True), place_ids())
    here = url_for("purchasing.order_page", order_id=order_id)
    try:
        if action == "lines":
            kept = _quantities(order, "quantity_", 0)
            if not kept:
                raise ApiError(400, "An order keeps at least one line; cancel it instead.")
            costs = {line.product_id: line.unit_cost for line in order.lines}
            orders.update_lines(order, current_user.id, [(p, q, costs[p.id]) for p, q in kept])
            done = "Saved the quantities."
        elif action == "send":
            orders.send_order(order, current_user.id, current_user.email)
            done = f"{order.label} is on its way to {order.supplier.email}."
        elif action == "receive":
            received = _quantities(order, "received_", 0)
            if not received:
                raise ApiError(400, "Enter the quantity received of at least one line.")
            orders.receive(order, current_user.id, [(p.id, q) for p, q in received])
            done = f"Received into stock: {order.label} is {STATUS_WORDS[order.status].lower()}."
        else:
            orders.cancel(order, current_user.id)
            done = f"{order.label} is cancelled."
        db.session.commit()
    except ApiError as e:
        return _refused(e, here)
    flash(done, "success")
    return redirect(here, code=303)


def _save_supplier_form(supplier=None):
    """The suppliers page (adding) or one supplier's (editing): saved and back to the list, or the
    form again with its errors (400), nothing saved."""
    if request.method == "POST":
        fields = Fields({k: request.form.get(k, "") for k in SUPPLIER_FIELDS}, form=True)
        try:
            values = read_supplier(fields, creating=True)
            fields.check()
            supplier = service.save_supplier(current_client_id(), current_user.id, values, supplier)
            db.session.commit()
        except ApiError as e:
            db.session.rollback()
            return _render_suppliers(request.form, e.details or {"name": e.message}, supplier), 400
        flash(f"Saved {supplier.name}.", "success")
        return redirect(url_for("purchasing.suppliers_page"), code=303)
    return _render_suppliers(supplier.to_dict() if supplier else {}, {}, supplier)


def _render_suppliers(form, errors, editing):
    return render_template("purchasing/suppliers.html", suppliers=service.supplier_dicts(current_client_id()),
                           form=form, errors=errors, editing=editing)


@bp.route("/suppliers", methods=["GET", "POST"])
@login_required
def suppliers_page():
    if not current_user.can_manage:
        return _managers_only()
    return _save_supplier_form()


@bp.route("/suppliers/<int:supplier_id>", methods=["GET", "POST"])
@login_required
def supplier_page(supplier_id):
    if not current_user.can_manage:
        return _managers_only()
    return _save_supplier_form(get_owned_or_404(Supplier, supplier_id))


@bp.post("/suppliers/<int:supplier_id>/delete")
@login_required
def delete_supplier_page(supplier_id):
    if not current_user.can_manage:
        return _managers_only()
    supplier = get_owned_or_404(Supplier, supplier_id)
    if service.has_orders(supplier):
        flash(f"{supplier.name} has purchase orders: it cannot be deleted.", "error")
    else:
        service.delete_supplier(supplier, current_user.id)
        db.session.commit()
        flash(f"Deleted {supplier.name}; its products have no supplier now.", "success")
    return redirect(url_for("purchasing.suppliers_page"), code=303)
