"""The pages of a shop's places: the header's location switch, the locations page (owners and
managers: add, rename, make default, deactivate) and the transfer form with the recent transfers.
Thin over retail.locations, which the JSON API uses too: the same checks and the same errors."""
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import func

from ..auth.tenancy import current_client_id, get_owned_or_404, place_ids, require_manager, scoped
from ..auth.views import safe_next
from ..errors import ApiError
from ..extensions import db
from ..validation import MAX_ID, Fields
from . import bp, locations, service, switch
from .forms import MAX_STOCK, MAX_THRESHOLD
from .locations_api import read_location
from .models import Product

KIND_LABELS = {"store": "Store", "stockroom": "Stock room", "warehouse": "Warehouse"}
PICK_LIMIT = 500  # more active products than this: the transfer form asks for a SKU instead of a list


def _without_place(target):
    """The page to return to, without a ?location_id= that would override the new choice."""
    if not target:
        return None
    parts = urlsplit(target)
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "location_id"])
    return urlunsplit(("", "", parts.path, query, ""))


@bp.post("/retail/location")
@login_required
def switch_location():
    """The header's switch: remember the place chosen (empty: the whole view), back to the page."""
    raw = request.form.get("location_id", "").strip()
    back = _without_place(safe_next(request.form.get("next", ""))) or url_for("notifications.dashboard_page")
    place = switch.current_place()
    if not raw:
        switch.choose(None)
    elif raw.isdigit() and any(lid == int(raw) for lid, _ in place.choices):
        switch.choose(int(raw))
    else:
        flash("No such location.", "error")
        return redirect(back, code=303)
    return redirect(back, code=303)


# --- the locations page -----------------------------------------------------------------------

def _locations_page(errors=None, status=200, failed_id=None):
    client_id = current_client_id()
    shown = locations.shop_locations(client_id, place_ids())
    held = locations.held_by_location(client_id, [loc.id for loc in shown])
    return render_template("retail/locations.html", locations=shown, held=held, kinds=KIND_LABELS,
                           errors=errors or {}, failed_id=failed_id, form=request.form), status


def _refused(e, failed_id=None):
    db.session.rollback()
    return _locations_page(e.details or {"name": e.message} if e.status == 400 else {"_": e.message},
                           e.status, failed_id)


@bp.get("/retail/locations")
@login_required
@require_manager
def locations_page():
    return _locations_page()


@bp.post("/retail/locations")
@login_required
@require_manager
def add_location():
    fields = Fields({k: request.form.get(k, "") for k in ("name", "kind")}, form=True)
    try:
        values = read_location(fields, creating=True)
        fields.check()
        location = locations.create_location(current_client_id(), current_user.id, values["name"],
                                             values.get("kind", "store"))
        db.session.commit()
    except ApiError as e:
        return _refused(e)
    flash(f"Added {location.name}.", "success")
    return redirect(url_for("retail.locations_page"), code=303)


ACTIONS = {"default": {"is_default": True}, "deactivate": {"active": False}, "activate": {"active": True}}


@bp.post("/retail/locations/<int:location_id>")
@login_required
@require_manager
def update_location(location_id):
    """Rename or re-kind (`name`, `kind`), or one `action`: default, deactivate, activate."""
    location = locations.get_location(current_client_id(), location_id, place_ids())
    action = request.form.get("action", "save")
    try:
        if action in ACTIONS:
            changes = dict(ACTIONS[action])
        elif action == "save":
            fields = Fields({k: request.form.get(k, "") for k in ("name", "kind")}, form=True)
            changes = read_location(fields, creating=False)
            if not changes.get("name"):
                fields.error("name", "This field is required.")
            fields.check()
        else:
            raise ApiError(400, "Unknown action.", {"name": "Unknown action."})
        locations.update_location(location, current_user.id, changes)
        db.session.commit()
    except ApiError as e:
        return _refused(e, location_id)
    done = {"default": "is now the default", "deactivate": "is deactivated", "activate": "is active again"}
    flash(f"{location.name} {done.get(action, 'is saved')}.", "success")
    return redirect(url_for("retail.locations_page"), code=303)


# --- a product's threshold at a place ------------------------------------------------------------

@bp.post("/retail/products/<int:product_id>/locations/<int:location_id>/threshold")
@login_required
def set_location_threshold(product_id, location_id):
    """The product page's threshold at one place (empty: inherit the product's), as
    PUT /api/products/<id>/locations/<id> does: another place than the caller's is a 404."""
    product = get_owned_or_404(Product, product_id)
    back = url_for("retail.edit_product", product_id=product.id)
    if not current_user.can_manage:
        flash("Only owners and managers can change a threshold.", "error")
        return redirect(back, code=303)
    location = locations.get_location(current_client_id(), location_id, place_ids())
    fields = Fields({"low_stock_threshold": request.form.get("low_stock_threshold", "")}, form=True)
    threshold = fields.integer("low_stock_threshold", minimum=0, maximum=MAX_THRESHOLD)
    if fields.errors:
        flash(f"Threshold of {product.name} at {location.name} not changed: {fields.errors['low_stock_threshold']}",
              "error")
        return redirect(back, code=303)
    locations.change_threshold(product, location, threshold, current_user.id)
    db.session.commit()
    here = service.product_dict(product, location_id=location.id)
    flash(f"{product.name} at {location.name} now alerts at {here['effective_threshold']} or below "
          f"(the {here['threshold_source']}'s threshold).", "success")
    return redirect(back, code=303)


# --- transfers ----------------------------------------------------------------------------------

def _product_choices(client_id):
    """[(id, name, sku)] of the shop's active products by name, or None when there are too many
    to list (the form then asks for a SKU)."""
    rows = db.session.execute(scoped(Product).with_only_columns(Product.id, Product.name, Product.sku)
                              .where(Product.active.is_(True))
                              .order_by(func.lower(Product.name), Product.id).limit(PICK_LIMIT + 1)).all()
    return None if len(rows) > PICK_LIMIT else rows


def _transfers_page(form, errors=None, status=200):
    client_id = current_client_id()
    place = switch.current_place()
    product = None
    if str(form.get("product_id", "")).isdigit():
        product = db.session.execute(scoped(Product).where(Product.id == int(form["product_id"]),
                                                           Product.active.is_(True))).unique().scalar_one_or_none()
    view = service.product_dict(product, ids=place.ids) if product is not None else None
    recent = locations.list_transfers(client_id, 20, ids=place.ids)
    return render_template("retail/transfers.html", form=form, errors=errors or {}, product=product, view=view,
                           products=None if product is not None else _product_choices(client_id),
                           places=place.choices, transfers=locations.transfer_dicts(client_id, recent)), status


@bp.get("/retail/transfers")
@login_required
def transfers_page():
    """The transfer form (prefilled from ?product_id=&from_location_id=&to_location_id=&quantity=,
    as the bell and the product page link to it) and the shop's recent transfers."""
    form = {k: request.args.get(k, "") for k in ("product_id", "from_location_id", "to_location_id", "quantity")}
    return _transfers_page(form)


@bp.post("/retail/transfers")
@login_required
def make_transfer():
    form = {k: request.form.get(k, "") for k in ("product_id", "sku", "from_location_id", "to_location_id",
                                                 "quantity", "note")}
    fields = Fields(form, form=True)
    product_id = fields.integer("product_id", minimum=1, maximum=MAX_ID)
    sku = fields.text("sku", max_length=64)
    from_id = fields.integer("from_location_id", required=True, minimum=1, maximum=MAX_ID)
    to_id = fields.integer("to_location_id", required=True, minimum=1, maximum=MAX_ID)
    quantity = fields.integer("quantity", required=True, minimum=1, maximum=MAX_STOCK)
    note = fields.text("note", max_length=200)
    if product_id is None and sku is None and "product_id" not in fields.errors and "sku" not in fields.errors:
        fields.error("product_id", "Choose a product.")
    try:
        fields.check()
        product = service.product_for_update(current_client_id(), product_id, None if product_id else sku)
        moved = locations.transfer(current_client_id(), current_user.id, product, from_id, to_id, quantity, note,
                                   place_ids())
        db.session.commit()
    except ApiError as e:
        db.session.rollback()
        errors = dict(e.details or {})
        if e.status != 400:
            errors = {"_": e.message, **errors}
        return _transfers_page(form, errors, 400 if e.status == 400 else e.status)
    shown = locations.transfer_dicts(current_client_id(), [moved])[0]
    flash(f"Moved {quantity} {product.name} from {shown['from_location']['name']} to "
          f"{shown['to_location']['name']}.", "success")
    back = safe_next(request.form.get("back", ""))
    return redirect(back if back and back.startswith("/retail/") else url_for("retail.transfers_page"), code=303)
