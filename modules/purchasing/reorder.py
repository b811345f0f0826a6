"""On-order quantities and the reorder list: a product at each active location that carries it,
with that place's stock, effective threshold, sales and open orders, in one statement (the same
inputs as the `reorder` alert kind, so the list and the alert agree). Callers pass a client_id they
already trust and the caller's locations (`ids`, None: all of them)."""
from sqlalchemy import and_, case, func, select

from ..auth.models import Client, NotificationSettings
from ..auth.settings import shop_threshold
from ..auth.tenancy import at_places, for_shop
from ..extensions import db
from ..retail import rules as stock_rules
from ..retail import sales
from ..retail.models import Category, Location, Product, ProductStock
from ..timeutil import utcnow
from . import rules
from .models import OPEN_STATUSES, PurchaseOrder, PurchaseOrderLine, Supplier

ITEM_FIELDS = ("stock", "on_order", "reorder_point", "days_left", "suggested_quantity")


def on_order(client_filter=None, by_location=False):
    """A subquery (client_id, product_id, units) of what sent orders still bring: ordered minus
    received, per product line, over orders sent and not yet fully received; with `by_location`,
    (client_id, product_id, location_id, units), per place the orders deliver to."""
    outstanding = case((PurchaseOrderLine.quantity > PurchaseOrderLine.received,
                        PurchaseOrderLine.quantity - PurchaseOrderLine.received), else_=0)
    keys = [PurchaseOrderLine.client_id, PurchaseOrderLine.product_id]
    if by_location:
        keys.append(PurchaseOrder.location_id.label("location_id"))
    stmt = (select(*keys, func.sum(outstanding).label("units"))
            .join(PurchaseOrder, PurchaseOrder.id == PurchaseOrderLine.order_id)
            .where(PurchaseOrder.status.in_(OPEN_STATUSES))
            .group_by(*keys))
    if client_filter is not None:
        stmt = stmt.where(client_filter)
    return stmt.subquery("on_order")


def _window(client_id):
    timezone, window = db.session.execute(
        select(Client.timezone, NotificationSettings.forecast_window_days)
        .outerjoin(NotificationSettings, NotificationSettings.client_id == Client.id)
        .where(Client.id == client_id)).one()
    return timezone, window or sales.DEFAULT_WINDOW_DAYS


def _at_place(sub):
    return and_(sub.c.product_id == ProductStock.product_id, sub.c.location_id == ProductStock.location_id)


def reorder_items(client_id, supplier_id=None, location_id=None, ids=None, now=None):
    """Every active product at each active location that carries it whose stock + on_order there
    is at or below its reorder point there, grouped by supplier (by name, those without one last),
    then by product, then by place (the default first); at `location_id` only when given, and at
    the locations `ids` only when given. The filter is SQL; the quantity is
    rules.suggested_quantity over each row."""
    now = now or utcnow()
    timezone, window = _window(client_id)
    units, sold = sales.place_units(client_id, timezone, window, now)
    ordered = on_order(PurchaseOrderLine.client_id == client_id, by_location=True)
    threshold = stock_rules.sql_effective_threshold(ProductStock.low_stock_threshold, Product.low_stock_threshold,
                                                    Category.low_stock_threshold, shop_threshold(client_id))
    incoming = func.coalesce(ordered.c.units, 0)
    point = rules.sql_reorder_point(threshold, units, window, Supplier.lead_time_days)
    stmt = (for_shop(ProductStock, client_id, Product, Supplier, Location.id, Location.name, ProductStock.stock,
                     units.label("units"), incoming.label("on_order"), point.label("reorder_point"))
            .join(Product, Product.id == ProductStock.product_id)
            .join(Location, and_(Location.id == ProductStock.location_id, Location.active.is_(True)))
            .outerjoin(Category, Category.id == Product.category_id)
            .outerjoin(Supplier, and_(Supplier.id == Product.supplier_id, Supplier.client_id == Product.client_id))
            .outerjoin(ordered, _at_place(ordered))
            .where(Product.active.is_(True), ProductStock.stock + incoming <= point)
            .order_by(Supplier.name.is_(None), func.lower(Supplier.name), Supplier.id, func.lower(Product.name),
                      Product.id, Location.is_default.desc(), func.lower(Location.name), Location.id))
    if sold is not None:
        stmt = stmt.outerjoin(sold, _at_place(sold))
    if supplier_id is not None:
        stmt = stmt.where(Product.supplier_id == supplier_id)
    if location_id is not None:
        stmt = stmt.where(ProductStock.location_id == location_id)
    stmt = at_places(stmt, ProductStock.location_id, ids)
    items = []
    for product, supplier, place_id, place_name, stock, units, incoming_units, point_value in db.session.execute(stmt):
        items.append({
            "product": product, "supplier": supplier, "location": {"id": place_id, "name": place_name},
            "stock": stock, "on_order": int(incoming_units), "reorder_point": int(point_value),
            "days_left": stock_rules.days_left(stock, units, window),
            "suggested_quantity": rules.suggested_quantity(stock, int(incoming_units), int(point_value),
                                                           product.reorder_quantity, product.max_stock,
                                                           product.pack_size),
        })
    return items


def reorder_dicts(items, product_dicts):
    """The list as the API shows it; `product_dicts` are retail's views of the items' products."""
    return [{"product": shown, "location": item["location"],
             "supplier": item["supplier"].brief() if item["supplier"] else None,
             **{k: item[k] for k in ITEM_FIELDS}}
            for item, shown in zip(items, product_dicts)]
