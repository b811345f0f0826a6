"""/api/products (movements, CSV), /api/stock/batch and /api/categories: thin routes over retail's
services."""
from flask import Response, jsonify, request, stream_with_context
from flask_login import current_user, login_required

from ..auth.tenancy import current_client_id, get_owned_or_404, place_ids, require_manager
from ..dialect import begin_write
from ..errors import ApiError, ValidationError
from ..extensions import db
from ..timeutil import utcnow
from ..validation import MAX_ID, Fields, QueryArgs, json_body
from . import batch, bp, csvio, history, locations, service, windows
from .forms import PURCHASING_FIELDS, check_may_silence, read_category, read_product, read_stock_change
from .models import Category, Product

STOCK_FILTERS = ("all", "low", "out")
PAGE_FILTERS = STOCK_FILTERS + ("soon", "snoozed")  # the products page's tabs: running out, snoozed
SORTS = ("name", "stock", "status")


def read_list_args(default_per_page=20, filters=STOCK_FILTERS, sorting=False):
    """?stock=&q=&category_id=&page=&per_page= (and ?sort=&dir= when `sorting`), validated (bad
    values are a 400)."""
    args = QueryArgs(request.args)
    stock = args.choice("stock", filters, default="all")
    page = args.integer("page", 1, 1, 1_000_000)
    per_page = args.integer("per_page", default_per_page, 1, 100)
    category_id = args.integer("category_id", None, 1, MAX_ID)
    location_id = args.integer("location_id", None, 1, MAX_ID)
    q = (request.args.get("q") or "").strip()[:100] or None
    out = {"stock": stock, "q": q, "category_id": category_id, "page": page, "per_page": per_page,
           "location_id": location_id}
    if sorting:
        out["sort"] = args.choice("sort", SORTS, default="name")
        out["dir"] = args.choice("dir", ("asc", "desc"), default="asc")
    args.check()
    if location_id is not None:
        locations.get_location(current_client_id(), location_id, place_ids())  # another's: 404
    return out


def _product_json(product, location_id=None):
    return service.product_dict(product, location_id=location_id, ids=place_ids())


@bp.get("/api/products")
@login_required
def api_products():
    args = read_list_args()
    ids = place_ids()
    windows.roll_for_request(current_client_id())
    items, total = service.list_products(current_client_id(), **args, ids=ids)
    return jsonify({"items": service.product_dicts(current_client_id(), items, location_id=args["location_id"], ids=ids),
                    "total": total, "page": args["page"], "per_page": args["per_page"]})


def _csv_location():
    """?location_id= of a CSV export or import: one the caller sees (else 404), or None (the
    default location, as for the whole shop); a person who does not see the default gets the
    first of their places instead."""
    args = QueryArgs(request.args)
    location_id = args.integer("location_id", None, 1, MAX_ID)
    args.check()
    ids = place_ids()
    if location_id is None:
        location_id = locations.first_of_theirs(current_client_id(), ids)
    if location_id is not None:
        locations.get_location(current_client_id(), location_id, ids)
    return location_id


@bp.post("/api/products")
@login_required
def api_create_product():
    fields = Fields(json_body({"name", "sku", "category", "stock", "low_stock_threshold", *PURCHASING_FIELDS}))
    values = read_product(fields, creating=True)
    fields.check()
    check_may_silence(None, values)
    if values.get("stock"):  # the opening stock is a stock change: where the caller's go, naming no place
        values["location_id"] = locations.opening_location(current_client_id(), current_user).id
    product, _ = service.create_product(current_client_id(), current_user.id, **values)
    db.session.commit()
    return jsonify(_product_json(product)), 201


@bp.get("/api/products/export.csv")
@login_required
def api_export_products():
    client_id = current_client_id()
    location_id = _csv_location()
    return Response(stream_with_context(csvio.export_rows(client_id, location_id)), mimetype="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="products.csv"'})


def import_upload():
    """The uploaded `file` imported (validated whole first): {created, updated}; 400 naming each
    bad line and nothing written. The caller commits."""
    location_id = _csv_location()
    upload = request.files.get("file")
    if upload is None:
        raise ApiError(400, "Send the CSV as the multipart field `file`.", {"file": "Required."})
    try:
        rows = csvio.read_csv(upload.stream)
    except csvio.ImportRefused as e:
        raise ApiError(400, e.message, e.details, extra={"more": e.more} if e.more else None)
    try:
        return csvio.import_products(current_client_id(), current_user.id, rows, location_id)
    except csvio.ImportRefused as e:  # a supplier the shop does not have
        raise ApiError(400, e.message, e.details)
    except csvio.ImportConflict:
        raise ApiError(409, "Another change to these products happened at the same time; nothing was imported. "
                            "Try again.", {"file": "A SKU in the file was added meanwhile."})


@bp.post("/api/products/import")
@login_required
@require_manager
def api_import_products():
    result = import_upload()
    db.session.commit()
    return jsonify(result)


@bp.get("/api/products/<int:product_id>")
@login_required
def api_product(product_id):
    return jsonify(_product_json(get_owned_or_404(Product, product_id)))


@bp.patch("/api/products/<int:product_id>")
@login_required
def api_update_product(product_id):
    product = get_owned_or_404(Product, product_id)
    fields = Fields(json_body({"name", "sku", "category", "low_stock_threshold", "active", "stock",
                                *PURCHASING_FIELDS}))
    values = read_product(fields, creating=False)
    fields.check()
    check_may_silence(product, values)
    service.update_product(product, current_user.id, values)
    db.session.commit()
    return jsonify(_product_json(product))


@bp.delete("/api/products/<int:product_id>")
@login_required
@require_manager
def api_archive_product(product_id):
    product = get_owned_or_404(Product, product_id)
    service.update_product(product, current_user.id, {"active": False})
    db.session.commit()
    return jsonify(_product_json(product))


def _source():
    """Where a stock change came from, for its movement: a till's API token or the app."""
    return "token" if current_user.is_token else "app"


@bp.post("/api/products/<int:product_id>/stock")
@login_required
def api_change_stock(product_id):
    product = get_owned_or_404(Product, product_id, for_update=True)
    fields = Fields(json_body({"delta", "quantity", "reason", "location_id"}))
    reason, delta, quantity = read_stock_change(fields)
    location_id = fields.integer("location_id", minimum=1, maximum=MAX_ID, nullable=True)
    fields.check()
    place = locations.stock_location(current_client_id(), location_id, current_user)
    product, notification = service.change_stock(product, current_user.id, reason, delta=delta, quantity=quantity,
                                                  source=_source(), location_id=place.id)
    db.session.commit()
    return jsonify({"product": _product_json(product), "alert": notification})


@bp.post("/api/stock/batch")
@login_required
def api_stock_batch():
    """A till's batch: all or nothing, alerts checked once, answered once per Idempotency-Key."""
    key = request.headers.get("Idempotency-Key")
    if key is not None and not (1 <= len(key) <= 255 and key.isprintable() and key.isascii()):
        raise ValidationError({"Idempotency-Key": "Must be 1 to 255 printable characters."})
    body = json_body()
    changes = batch.read_batch(body)
    client_id = current_client_id()
    begin_write()
    if key is not None:
        stored = batch.claim_key(client_id, key, batch.body_hash(body), utcnow())
        if stored is not None:
            db.session.rollback()
            return jsonify(stored)
    answer = batch.apply_batch(client_id, changes, current_user.id, current_user.client.allow_negative_stock,
                               source=_source(), caller=current_user)
    if key is not None:
        batch.store_answer(client_id, key, answer)
    db.session.commit()
    return jsonify(answer)


@bp.get("/api/products/<int:product_id>/movements")
@login_required
def api_movements(product_id):
    product = get_owned_or_404(Product, product_id)
    args = QueryArgs(request.args)
    limit = args.integer("limit", 20, 1, 100)
    before_id = args.integer("before_id", None, 1, 2**31 - 1)
    args.check()
    items = history.movement_history(product.client_id, product.id, limit, before_id, place_ids())
    return jsonify({"items": items})


@bp.get("/api/categories")
@login_required
def api_categories():
    return jsonify({"items": service.category_dicts(current_client_id())})


def _category_json(category):
    return next(c for c in service.category_dicts(category.client_id) if c["id"] == category.id)


def _read_category(creating):
    fields = Fields(json_body({"name", "low_stock_threshold"}))
    changes = read_category(fields, creating)
    fields.check()
    if "low_stock_threshold" in changes and not current_user.can_manage:
        raise ApiError(403, "Only owners and managers can set a threshold.")
    return changes


@bp.post("/api/categories")
@login_required
def api_create_category():
    category, _ = service.save_category(current_client_id(), current_user.id, _read_category(creating=True))
    db.session.commit()
    return jsonify(_category_json(category)), 201


@bp.patch("/api/categories/<int:category_id>")
@login_required
@require_manager
def api_update_category(category_id):
    category = get_owned_or_404(Category, category_id)
    service.save_category(category.client_id, current_user.id, _read_category(creating=False), category)
    db.session.commit()
    return jsonify(_category_json(category))
