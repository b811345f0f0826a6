"""Suppliers and the stock's value, without a request. Callers pass a client_id they already
trust. On-order quantities and the reorder list are in reorder.py (re-exported here for callers)."""
from decimal import Decimal

from sqlalchemy import and_, case, func, select, update

from ..auth import audit
from ..auth.models import NotificationSettings
from ..auth.tenancy import for_shop, owned_by
from ..extensions import db
from ..retail.models import Category, Product, ProductStock
from . import rules
from .models import PurchaseOrder, Supplier
from .reorder import on_order, reorder_dicts, reorder_items  # noqa: F401 (re-exported)

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


# --- the stock's value ----------------------------------------------------------------------------

def currency(client_id):
    return db.session.execute(select(NotificationSettings.currency).where(
        owned_by(NotificationSettings, client_id))).scalar_one_or_none() or "USD"


def _exact(value):
    """A sum as a Decimal (SQLite hands sums back as REAL: its shortest repr)."""
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


def stock_value(client_id, location_id=None, ids=None):
    """{currency, cost, retail, products_without_cost, by_category}: sum of price x stock over the
    active products with stock above zero (at `location_id` when given, else at the locations
    `ids` of a person limited to them: never another place's stock), in SQL (exact decimals)."""
    places = [location_id] if location_id is not None else ids
    level = Product.stock if places is None else ProductStock.stock
    positive = case((level > 0, level), else_=0)
    cost = func.coalesce(func.sum(Product.cost_price * positive), 0)
    retail = func.coalesce(func.sum(Product.sell_price * positive), 0)
    # One pass over the products' value index (client_id, active, category_id, stock, prices),
    # grouped by category id in its order; the names and the totals added here, in exact decimals.
    # A product counts once however many of the places carry it.
    stmt = for_shop(Product, client_id, Product.category_id, cost, retail,
                    func.count(Product.id.distinct()).filter(Product.cost_price.is_(None)))
    if places is not None:
        stmt = stmt.join(ProductStock, and_(ProductStock.product_id == Product.id,
                                            ProductStock.location_id.in_(places)))
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
