"""/api/products and /api/categories: thin routes over retail.service."""
from flask import jsonify, request
from flask_login import current_user, login_required

from ..auth.tenancy import current_client_id, get_owned_or_404, require_manager
from ..errors import ApiError
from ..extensions import db
from ..validation import MAX_ID, Fields, QueryArgs, json_body
from . import bp, service
from .forms import check_may_silence, read_category, read_product, read_stock_change
from .models import Category, Product

STOCK_FILTERS = ("all", "low", "out")


def read_list_args(default_per_page=20):
    """?stock=&q=&category_id=&page=&per_page=, validated (bad values are a 400)."""
    args = QueryArgs(request.args)
    stock = args.choice("stock", STOCK_FILTERS, default="all")
    page = args.integer("page", 1, 1, 1_000_000)
    per_page = args.integer("per_page", default_per_page, 1, 100)
    category_id = args.integer("category_id", None, 1, MAX_ID)
    q = (request.args.get("q") or "").strip()[:100] or None
    args.check()
    return {"stock": stock, "q": q, "category_id": category_id, "page": page, "per_page": per_page}


def _product_json(product):
    return service.product_dict(product)


@bp.get("/api/products")
@login_required
def api_products():
    args = read_list_args()
    items, total = service.list_products(current_client_id(), **args)
    return jsonify({"items": service.product_dicts(current_client_id(), items), "total": total,
                    "page": args["page"], "per_page": args["per_page"]})


@bp.post("/api/products")
@login_required
def api_create_product():
    fields = Fields(json_body({"name", "sku", "category", "stock", "low_stock_threshold"}))
    values = read_product(fields, creating=True)
    fields.check()
    check_may_silence(None, values)
    product, _ = service.create_product(current_client_id(), current_user.id, **values)
    db.session.commit()
    return jsonify(_product_json(product)), 201


@bp.get("/api/products/<int:product_id>")
@login_required
def api_product(product_id):
    return jsonify(_product_json(get_owned_or_404(Product, product_id)))


@bp.patch("/api/products/<int:product_id>")
@login_required
def api_update_product(product_id):
    product = get_owned_or_404(Product, product_id)
    fields = Fields(json_body({"name", "sku", "category", "low_stock_threshold", "active", "stock"}))
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


@bp.post("/api/products/<int:product_id>/stock")
@login_required
def api_change_stock(product_id):
    product = get_owned_or_404(Product, product_id, for_update=True)
    fields = Fields(json_body({"delta", "quantity", "reason"}))
    reason, delta, quantity = read_stock_change(fields)
    fields.check()
    product, notification = service.change_stock(product, current_user.id, reason, delta=delta, quantity=quantity)
    db.session.commit()
    return jsonify({"product": _product_json(product),
                    "alert": notification})


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
