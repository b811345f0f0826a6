"""/api/locations, /api/transfers and a product's threshold at a location: thin routes over
retail.locations. A person limited to some locations sees only those (another's id is a 404)."""
from flask import jsonify, request
from flask_login import current_user, login_required

from ..auth.tenancy import current_client_id, get_owned_or_404, place_ids, require_manager
from ..extensions import db
from ..validation import MAX_ID, Fields, QueryArgs, json_body
from . import bp, locations, service
from .forms import MAX_STOCK, MAX_THRESHOLD
from .models import LOCATION_KINDS, Product

NAME_LENGTH = 80


def read_location(fields, creating):
    """The location fields present in the input. A name sent is never empty, nor a kind sent as
    null in JSON (a form's empty kind is the default `store`): a 400, not a change skipped."""
    values = {}
    name = fields.text("name", required=creating or fields.has("name"), max_length=NAME_LENGTH)
    if name is not None:
        values["name"] = name
    kind = fields.choice("kind", LOCATION_KINDS, required=fields.has("kind") and not fields.form)
    if kind is not None:
        values["kind"] = kind
    if not creating:
        for flag in ("is_default", "active"):
            if fields.has(flag):
                value = fields.boolean(flag)
                if value is not None:
                    values[flag] = value
    return values


@bp.get("/api/locations")
@login_required
def api_locations():
    return jsonify({"items": [loc.to_dict() for loc in locations.shop_locations(current_client_id(), place_ids())]})


@bp.get("/api/locations/<int:location_id>")
@login_required
def api_location(location_id):
    return jsonify(locations.get_location(current_client_id(), location_id, place_ids()).to_dict())


@bp.post("/api/locations")
@login_required
@require_manager
def api_create_location():
    fields = Fields(json_body({"name", "kind"}))
    values = read_location(fields, creating=True)
    fields.check()
    location = locations.create_location(current_client_id(), current_user.id, values["name"],
                                         values.get("kind", "store"))
    db.session.commit()
    return jsonify(location.to_dict()), 201


@bp.patch("/api/locations/<int:location_id>")
@login_required
@require_manager
def api_update_location(location_id):
    location = locations.get_location(current_client_id(), location_id, place_ids())
    fields = Fields(json_body({"name", "kind", "is_default", "active"}))
    values = read_location(fields, creating=False)
    fields.check()
    locations.update_location(location, current_user.id, values)
    db.session.commit()
    return jsonify(location.to_dict())


@bp.put("/api/products/<int:product_id>/locations/<int:location_id>")
@login_required
@require_manager
def api_set_location_threshold(product_id, location_id):
    product = get_owned_or_404(Product, product_id)
    location = locations.get_location(current_client_id(), location_id, place_ids())
    fields = Fields(json_body({"low_stock_threshold"}))
    if not fields.has("low_stock_threshold"):
        fields.error("low_stock_threshold", "Required (a whole number, or null for the product's own).")
    threshold = fields.integer("low_stock_threshold", minimum=0, maximum=MAX_THRESHOLD, nullable=True)
    fields.check()
    locations.change_threshold(product, location, threshold, current_user.id)
    db.session.commit()
    return jsonify(service.product_dict(product, ids=place_ids()))


@bp.post("/api/transfers")
@login_required
def api_create_transfer():
    fields = Fields(json_body({"product_id", "sku", "from_location_id", "to_location_id", "quantity", "note"}))
    product_id = fields.integer("product_id", minimum=1, maximum=MAX_ID)
    sku = fields.text("sku", max_length=64)
    from_id = fields.integer("from_location_id", required=True, minimum=1, maximum=MAX_ID)
    to_id = fields.integer("to_location_id", required=True, minimum=1, maximum=MAX_ID)
    quantity = fields.integer("quantity", required=True, minimum=1, maximum=MAX_STOCK)
    note = fields.text("note", max_length=200)
    if (product_id is None) == (sku is None) and "product_id" not in fields.errors and "sku" not in fields.errors:
        fields.error("product_id", "Give either product_id or sku (one of them).")
    fields.check()
    product = service.product_for_update(current_client_id(), product_id, sku)
    moved = locations.transfer(current_client_id(), current_user.id, product, from_id, to_id, quantity, note,
                               place_ids(), source="token" if current_user.is_token else "app")
    db.session.commit()
    shown = locations.transfer_dicts(current_client_id(), [moved])[0]
    shown["product"] = service.product_dict(product, ids=place_ids())
    return jsonify(shown), 201


@bp.get("/api/transfers")
@login_required
def api_transfers():
    args = QueryArgs(request.args)
    limit = args.integer("limit", 20, 1, 100)
    before_id = args.integer("before_id", None, 1, MAX_ID)
    product_id = args.integer("product_id", None, 1, MAX_ID)
    args.check()
    found = locations.list_transfers(current_client_id(), limit, before_id, place_ids(), product_id)
    return jsonify({"items": locations.transfer_dicts(current_client_id(), found)})
