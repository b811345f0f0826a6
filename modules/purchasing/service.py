"""Suppliers, on-order quantities, the reorder list and the stock's value, without a request.
Callers pass a client_id they already trust."""
from decimal import Decimal

from sqlalchemy import and_, case, func, select, update

from ..auth import audit
from ..auth.models import Client, NotificationSettings
from ..auth.settings import shop_threshold
from ..auth.tenancy import for_shop, owned_by
from ..extensions import db
from ..retail import rules as stock_rules
from ..retail import sales
from ..retail.models import Category, Product, ProductStock, SalesDaily
from ..timeutil import utcnow
from . import rules
from .models import OPEN_STATUSES, PurchaseOrder, PurchaseOrderLine, Supplier

UNCATEGORIZED = "Uncategorized"


# --- suppliers ------------------------------------------------------------------------------------

def supplier_dicts(client_id):
    rows = db.session.execute(for_shop(Supplier, client_id).order_by(func.lower(Supplier.name), Supplier.id))
    return [s.to_dict() for s in rows.scalars()]


def save_supplier(client_id, user_id, changes, supplier=None):
    """Create a supplier (`supplier` None) or change one, audited; the caller commits."""
    creating = supplier is None
    if creating:
        supplier = Supplier(client_id=client_id)
        db.session.add(supplier)
    before = {} if creating else supplier.to_dict()
    for key, value in changes.items():
        setattr(supplier, key, value)
    db.session.flush()
    diff = audit.diff(before, changes)
    if diff:
        audit.record(client_id, user_id, "supplier.create" if creating else "supplier.update",
                     f"supplier {supplier.id}: {supplier.name}", diff)
    return supplier


def delete_supplier(supplier, user_id):
    """Delete a supplier: its products keep no supplier. One with purchase orders cannot go (they
    name it), which the caller answers as a 409."""
    client_id = supplier.client_id
    db.session.execute(update(Product).where(owned_by(Product, client_id), Product.supplier_id == supplier.id)
                       .values(supplier_id=None), execution_options={"synchronize_session": False})
    audit.record(client_id, user_id, "supplier.delete", f"supplier {supplier.id}: {supplier.name}")
    db.session.delete(supplier)
    db.session.flush()


def has_orders(supplier):
    return db.session.execute(for_shop(PurchaseOrder, supplier.client_id, PurchaseOrder.id)
                              .where(PurchaseOrder.supplier_id == supplier.id).limit(1)).first() is not None


# --- on order -------------------------------------------------------------------------------------

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


# --- the reorder list -----------------------------------------------------------------------------

def _window(client_id):
    timezone, window = db.session.execute(
        select(Client.timezone, NotificationSettings.forecast_window_days)
        .outerjoin(NotificationSettings, NotificationSettings.client_id == Client.id)
        .where(Client.id == client_id)).one()
    return timezone, window or sales.DEFAULT_WINDOW_DAYS


def reorder_items(client_id, supplier_id=None, now=None):
    """Every active product whose stock + on_order <= its reorder point, grouped by supplier (by
    name, those without one last), with the suggested quantity. The filter is SQL; the quantity
    is rules.suggested_quantity over each row."""
    now = now or utcnow()
    timezone, window = _window(client_id)
    sold = sales.units_sold(sales.window_first_day(timezone, window, now), SalesDaily.client_id == client_id)
    ordered = on_order(PurchaseOrderLine.client_id == client_id)
    threshold = stock_rules.sql_effective_threshold(Product.low_stock_threshold, Category.low_stock_threshold,
                                                    shop_threshold(client_id))
    incoming = func.coalesce(ordered.c.units, 0)
    point = rules.sql_reorder_point(threshold, sold.c.units, window, Supplier.lead_time_days)
    stmt = (for_shop(Product, client_id, Product, Supplier, threshold.label("threshold"), sold.c.units,
                     incoming.label("on_order"), point.label("reorder_point"))
            .outerjoin(Category, Category.id == Product.category_id)
            .outerjoin(Supplier, and_(Supplier.id == Product.supplier_id, Supplier.client_id == Product.client_id))
            .outerjoin(sold, sold.c.product_id == Product.id)
            .outerjoin(ordered, ordered.c.product_id == Product.id)
            .where(Product.active.is_(True), Product.stock + incoming <= point)
            .order_by(Supplier.name.is_(None), func.lower(Supplier.name), Supplier.id, func.lower(Product.name),
                      Product.id))
    if supplier_id is not None:
        stmt = stmt.where(Product.supplier_id == supplier_id)
    rows = db.session.execute(stmt).all()
    items = []
    for product, supplier, _, units, incoming_units, point_value in rows:
        items.append({
            "product": product, "supplier": supplier, "stock": product.stock, "on_order": int(incoming_units),
            "reorder_point": int(point_value),
            "days_left": stock_rules.days_left(product.stock, units, window),
            "suggested_quantity": rules.suggested_quantity(product.stock, int(incoming_units), int(point_value),
                                                           product.reorder_quantity, product.max_stock,
                                                           product.pack_size),
        })
    return items


def reorder_dicts(items, product_dicts):
    """The list as the API shows it; `product_dicts` are retail's views of the items' products."""
    return [{"product": shown, "location": None,
             "supplier": item["supplier"].brief() if item["supplier"] else None,
             **{k: item[k] for k in ("stock", "on_order", "reorder_point", "days_left", "suggested_quantity")}}
            for item, shown in zip(items, product_dicts)]


# --- the stock's value ----------------------------------------------------------------------------

def currency(client_id):
    return db.session.execute(select(NotificationSettings.currency).where(
        owned_by(NotificationSettings, client_id))).scalar_one_or_none() or "USD"


def _exact(value):
    """A sum as a Decimal (SQLite hands sums back as REAL: its shortest repr)."""
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


def stock_value(client_id, location_id=None):
    """{currency, cost, retail, products_without_cost, by_category}: sum of price x stock over the
    active products with stock above zero (at `location_id` when given), in SQL (exact decimals)."""
    level = Product.stock if location_id is None else ProductStock.stock
    positive = case((level > 0, level), else_=0)
    cost = func.coalesce(func.sum(Product.cost_price * positive), 0)
    retail = func.coalesce(func.sum(Product.sell_price * positive), 0)
    # One pass over the products' value index (client_id, active, category_id, stock, prices),
    # grouped by category id in its order; the names and the totals added here, in exact decimals.
    stmt = for_shop(Product, client_id, Product.category_id, cost, retail,
                    func.count().filter(Product.cost_price.is_(None)))
    if location_id is not None:
        stmt = stmt.join(ProductStock, and_(ProductStock.product_id == Product.id,
                                            ProductStock.location_id == location_id))
    per_category = db.session.execute(stmt.where(Product.active.is_(True)).group_by(Product.category_id)).all()
    names = dict(db.session.execute(for_shop(Category, client_id, Category.id, Category.name)).all())
    by_name = {}
    for category_id, c, r, _ in per_category:
        name = names.get(category_id, UNCATEGORIZED)
        before = by_name.get(name, (Decimal(0), Decimal(0)))
        by_name[name] = (before[0] + _exact(c), before[1] + _exact(r))
    rows = sorted(((name, c, r) for name, (c, r) in by_name.items()), key=lambda row: row[0].lower())
    total_cost = sum((c for _, c, _ in rows), Decimal(0))
    total_retail = sum((r for _, _, r in rows), Decimal(0))
    without = sum(n for _, _, _, n in per_category)
    return {"currency": currency(client_id), "cost": rules.money(total_cost),
            "retail": rules.money(total_retail), "products_without_cost": without,
            "by_category": [{"category": name, "cost": rules.money(c), "retail": rules.money(r)}
                            for name, c, r in rows]}
