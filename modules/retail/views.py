"""The /retail pages: product list, add, edit (with its history and chart), adjust stock,
archive and restore; categories."""
from datetime import timedelta

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from ..auth.tenancy import current_client_id, get_owned_or_404, scoped
from ..auth.views import safe_next
from ..errors import ApiError, ValidationError
from ..extensions import db
from ..timeutil import local_date, local_midnight, utcnow
from ..validation import MAX_ID, Fields
from . import bp, charts, history, locations, service, switch, windows
from .api import PAGE_FILTERS, import_upload, read_list_args
from .forms import PURCHASING_FIELDS, REASONS, check_may_silence, read_category, read_product, read_stock_amount
from .models import Category, Product


@bp.app_context_processor
def place_context():
    """The header's location switch (modules/retail/switch.py) on every signed-in page."""
    if current_user.is_authenticated and not current_user.is_token:
        return {"place": switch.current_place()}
    return {}


def _categories():
    return db.session.execute(scoped(Category).order_by(Category.name)).scalars().all()


@bp.get("/retail/products")
@login_required
def products():
    try:
        args = read_list_args(default_per_page=25, filters=PAGE_FILTERS, sorting=True)
    except ValidationError as e:
        flash("; ".join(f"{k}: {v}" for k, v in e.details.items()), "error")
        return redirect(url_for("retail.products"))
    place = switch.current_place()
    from_url = args["location_id"] is not None
    if not from_url:  # a ?location_id= link shows that place; else the switch's
        args["location_id"] = place.location_id
    windows.roll_for_request(current_client_id())
    counts = service.status_counts(current_client_id(), location_id=args["location_id"], ids=place.ids)
    # Without a search or a category, the tab's count is the list's total (the "soon" count reads
    # every sale of the window: once per page, not twice).
    known = counts[args["stock"]] if not args["q"] and args["category_id"] is None else None
    items, total = service.list_products(current_client_id(), **args, total=known, ids=place.ids)
    forecast_days = service.forecast_days(current_client_id())
    pages = max(1, -(-total // args["per_page"]))
    defaults = {"stock": "all", "page": 1, "per_page": 25, "sort": "name", "dir": "asc"}

    def list_url(**changes):
        """This list's address with `changes`, defaults left out (so links stay short)."""
        merged = {**args, **changes}
        if not from_url:
            merged.pop("location_id")
        return url_for("retail.products", **{k: v for k, v in merged.items()
                                             if v not in (None, "") and defaults.get(k) != v})

    shown = service.product_dicts(current_client_id(), items, location_id=args["location_id"], ids=place.ids)
    return render_template("retail/products.html", products=shown,
                           total=total, pages=pages, args=args, categories=_categories(), list_url=list_url,
                           counts=counts, forecast_days=forecast_days, forecast_on=forecast_days > 0,
                           adjust_at=args["location_id"] or _adjust_location(place),
                           at_name=next((n for lid, n in place.choices if lid == args["location_id"]), None))


HISTORY_PAGE = 20
CHART_DAYS = (30, 90)


def _page_args():
    """?days=30|90 for the chart and ?before_id= for the history; anything else is the default."""
    days = request.args.get("days", type=int)
    before_id = request.args.get("before_id", type=int)
    return (days if days in CHART_DAYS else CHART_DAYS[0],
            before_id if before_id is not None and 0 < before_id < 2**31 else None)


def _chart(product, view, days, location_ids=None):
    """(the product's stock over the last `days` shop-local days with its threshold, the shop-local
    day it was added when that is inside the window), at `location_ids` (None: the whole shop)."""
    tz = product.client.timezone
    now = utcnow()
    start = local_midnight(tz, now, -(days - 1))
    start_stock, changes, begins = history.stock_series(product, start, location_ids, view["stock"])
    step = 7 if days == 30 else 15
    ticks = [(local_midnight(tz, now, -(days - 1) + k), (local_date(tz, now) - timedelta(days=days - 1 - k))
              .strftime("%d %b")) for k in range(0, days, step)]
    chart = charts.stock_chart(start_stock, changes, start, now, view["effective_threshold"], ticks, begins)
    # A product younger than the window: say where its line starts rather than draw days it did not exist.
    added = local_date(tz, begins).strftime("%d %b") if begins > start else None
    return chart, added


def _adjust_location(place):
    """Where a stock change from a page goes when it names no place: the switch's location, else
    the caller's only one, else the shop's default."""
    if place.location_id is not None:
        return place.location_id
    if place.ids is not None and len(place.ids) == 1:
        return place.ids[0]
    return next((lid for lid, _ in place.choices[:1]), None)  # the default is listed first


def _transfer_offers(product, view, place):
    """{location id: the one-click transfer} for this product's low and out places a transfer from
    another place the caller sees would fix (transfer before you buy)."""
    if not place.switch or not product.active:
        return {}
    low = {(product.id, e["location"]["id"]) for e in view["locations"] if e["status"] in ("low", "out")}
    visible = {lid for lid, _ in place.choices}
    return {lid: found for (_, lid), found in locations.suggested_transfers(product.client_id, low).items()
            if found["quantity"] and found["from_location"]["id"] in visible}


def _adjust_places(view, place):
    """[(id, name, stock there)] of the places the caller may change stock at, for the adjust form."""
    if view is None or not place.switch:
        return []
    held = {e["location"]["id"]: e["stock"] for e in view["locations"]}
    return [(lid, name, held.get(lid, 0)) for lid, name in place.choices]


def _render_form(product, form, errors, status=200, stock_errors=None):
    movements, chart, chart_added, days, before_id, view = [], None, None, CHART_DAYS[0], None, None
    place = switch.current_place()
    offers = {}
    if product is not None:
        view = service.product_dict(product, location_id=place.location_id, ids=place.ids)
        days, before_id = _page_args()
        shown_ids = [place.location_id] if place.location_id is not None else place.ids
        movements = history.movement_history(product.client_id, product.id, HISTORY_PAGE + 1, before_id, shown_ids)
        chart, chart_added = _chart(product, view, days, shown_ids)
        offers = _transfer_offers(product, view, place)
    more = len(movements) > HISTORY_PAGE
    movements = movements[:HISTORY_PAGE]
    return render_template("retail/product_form.html", product=product, form=form, errors=errors,
                           categories=_categories(), reasons=REASONS, movements=movements,
                           suppliers=service.supplier_choices(current_client_id()),
                           next_before=movements[-1]["id"] if more else None, before_id=before_id,
                           chart=chart, chart_added=chart_added, days=days, chart_days=CHART_DAYS,
                           stock_errors=stock_errors or {}, stock_form=request.form if stock_errors else {},
                           view=view, place=place, offers=offers, adjust_at=_adjust_location(place),
                           adjust_places=_adjust_places(view, place),
                           carried=view is None or place.location_id is None
                           or any(e["location"]["id"] == place.location_id for e in view["locations"])), status


def _product_form_values(product):
    return {"name": product.name, "sku": product.sku or "",
            "category": product.category.name if product.category else "",
            "low_stock_threshold": "" if product.low_stock_threshold is None else product.low_stock_threshold,
            **{name: "" if getattr(product, name) is None else getattr(product, name) for name in PURCHASING_FIELDS}}


def _read_product_form(creating):
    data = {k: request.form.get(k, "") for k in ("name", "sku", "category", "low_stock_threshold")}
    data.update({k: request.form[k] for k in PURCHASING_FIELDS if k in request.form})
    if creating:
        data["stock"] = request.form.get("stock", "")
    fields = Fields(data, form=True)
    values = read_product(fields, creating=creating)
    fields.check()
    return values


@bp.route("/retail/products/new", methods=["GET", "POST"])
@login_required
def new_product():
    if request.method == "GET":
        return _render_form(None, {}, {})
    try:
        values = _read_product_form(creating=True)
        check_may_silence(None, values)
        if values.get("stock"):  # the opening stock is a stock change: where the caller's go, naming no place
            values["location_id"] = locations.opening_location(current_client_id(), current_user).id
        product, _ = service.create_product(current_client_id(), current_user.id, **values)
        db.session.commit()
    except ApiError as e:
        db.session.rollback()
        return _render_form(None, request.form, e.details or {"name": e.message}, 400 if e.status == 400 else e.status)
    flash(f"Added {product.name}.", "success")
    return redirect(url_for("retail.products"), code=303)


@bp.route("/retail/products/<int:product_id>/edit", methods=["GET", "POST"])
@login_required
def edit_product(product_id):
    product = get_owned_or_404(Product, product_id)
    if request.method == "GET":
        return _render_form(product, _product_form_values(product), {})
    try:
        values = _read_product_form(creating=False)
        check_may_silence(product, values)
        service.update_product(product, current_user.id, values)
        db.session.commit()
    except ApiError as e:
        db.session.rollback()
        product = get_owned_or_404(Product, product_id)
        return _render_form(product, request.form, e.details or {"name": e.message}, e.status)
    flash(f"Saved {product.name}.", "success")
    return redirect(url_for("retail.products"), code=303)


def _back_to_list():
    """The products list the form came from (its filter, search, sort and page), never elsewhere."""
    target = safe_next(request.form.get("back", ""))
    if target and (target == "/retail/products" or target.startswith("/retail/products?")):
        return target
    return None


@bp.post("/retail/products/<int:product_id>/stock")
@login_required
def adjust_stock(product_id):
    """A stock change from a page, at the form's `location_id` (default: the switch's location,
    else the caller's only one, else the shop's default)."""
    product = get_owned_or_404(Product, product_id, for_update=True)
    fields = Fields({k: request.form.get(k, "") for k in ("reason", "amount", "location_id")}, form=True)
    back = _back_to_list()
    try:
        reason, delta, quantity = read_stock_amount(fields)
        location_id = fields.integer("location_id", minimum=1, maximum=MAX_ID)
        fields.check()
        location = locations.stock_location(product.client_id, location_id or _adjust_location(switch.current_place()),
                                            current_user)
        product, notification = service.change_stock(product, current_user.id, reason, delta=delta,
                                                     quantity=quantity, location_id=location.id)
        db.session.commit()
    except ApiError as e:
        db.session.rollback()
        if e.status == 404:  # another shop's location, or one the caller is not limited to
            raise
        product = get_owned_or_404(Product, product_id)
        details = e.details or {"location_id": e.message}
        if back:
            flash(f"Stock of {product.name} not changed: " + " ".join(details.values()), "error")
            return redirect(back, code=303)
        return _render_form(product, _product_form_values(product), {}, 400 if e.status == 400 else e.status,
                            stock_errors=details)
    place = switch.current_place()
    here = service.product_dict(product, location_id=location.id) if place.switch else None
    if here is not None:
        flash(f"Stock of {product.name} at {location.name} is now {here['stock']}.", "success")
    else:
        flash(f"Stock of {product.name} is now {product.stock}.", "success")
    if notification:
        flash(notification["message"], "warning")
    return redirect(back or url_for("retail.edit_product", product_id=product.id), code=303)


@bp.post("/retail/products/<int:product_id>/archive")
@login_required
def archive_product(product_id):
    product = get_owned_or_404(Product, product_id)
    if not current_user.can_manage:
        flash("Only owners and managers can archive a product.", "error")
        return redirect(url_for("retail.edit_product", product_id=product.id), code=303)
    service.update_product(product, current_user.id, {"active": False})
    db.session.commit()
    flash(f"Archived {product.name}; it will not alert again.", "success")
    return redirect(url_for("retail.products"), code=303)


@bp.post("/retail/products/<int:product_id>/restore")
@login_required
def restore_product(product_id):
    product = get_owned_or_404(Product, product_id)
    if not current_user.can_manage:
        flash("Only owners and managers can restore a product.", "error")
        return redirect(url_for("retail.edit_product", product_id=product.id), code=303)
    alert = service.update_product(product, current_user.id, {"active": True})
    db.session.commit()
    flash(f"Restored {product.name}; it alerts again.", "success")
    if alert:
        flash(alert["message"], "warning")
    return redirect(url_for("retail.edit_product", product_id=product.id), code=303)


@bp.route("/retail/products/import", methods=["GET", "POST"])
@login_required
def import_page():
    """Export link and the import form; static/js/import.js uploads to the API with a progress
    bar, and this POST is the same import for a browser without JavaScript."""
    if request.method == "GET":
        return render_template("retail/import.html")
    if not current_user.can_manage:
        return render_template("retail/import.html", error="Only owners and managers can import products."), 403
    try:
        result = import_upload()
        db.session.commit()
    except ApiError as e:
        db.session.rollback()
        return render_template("retail/import.html", error=e.message, details=e.details,
                               more=e.extra.get("more")), e.status
    flash(f"Imported: {result['created']} new, {result['updated']} updated.", "success")
    return redirect(url_for("retail.products"), code=303)


def _categories_page(errors=None, status=200, failed_id=None):
    return render_template("retail/categories.html", categories=service.category_dicts(current_client_id()),
                           errors=errors or {}, failed_id=failed_id, form=request.form), status


def _page_error(e):
    """A refused category form: its errors by field, re-rendered with 400 (403 for a role)."""
    if e.status == 409:
        return {"name": e.message}, 400
    return e.details or {"name": e.message}, 403 if e.status == 403 else 400


@bp.route("/retail/categories", methods=["GET", "POST"])
@login_required
def categories():
    if request.method == "GET":
        return _categories_page()
    fields = Fields({k: v for k, v in request.form.items() if k in ("name", "low_stock_threshold")}, form=True)
    try:
        changes = read_category(fields, creating=True)
        fields.check()
        if changes.get("low_stock_threshold") is not None and not current_user.can_manage:
            raise ApiError(403, "Only owners and managers can set a threshold.", {"low_stock_threshold": "Owners and managers only."})
        category, _ = service.save_category(current_client_id(), current_user.id, changes)
        db.session.commit()
    except ApiError as e:
        db.session.rollback()
        return _categories_page(*_page_error(e))
    flash(f"Added category {category.name}.", "success")
    return redirect(url_for("retail.categories"), code=303)


@bp.post("/retail/categories/<int:category_id>")
@login_required
def update_category(category_id):
    category = get_owned_or_404(Category, category_id)
    if not current_user.can_manage:
        return _categories_page({"low_stock_threshold": "Only owners and managers can change a category."}, 403,
                                category_id)
    fields = Fields({k: v for k, v in request.form.items() if k in ("name", "low_stock_threshold")}, form=True)
    try:
        changes = read_category(fields, creating=False)
        fields.check()
        _, alert = service.save_category(category.client_id, current_user.id, changes, category)
        db.session.commit()
    except ApiError as e:
        db.session.rollback()
        return _categories_page(*_page_error(e), category_id)
    flash(f"Saved category {category.name}.", "success")
    if alert:
        flash(alert["message"], "warning")
    return redirect(url_for("retail.categories"), code=303)
