"""Reading a product or a stock change out of a JSON body or an HTML form, the same way."""
from flask_login import current_user

from ..errors import ApiError
from ..validation import MAX_ID, Fields
from .models import MAX_STOCK, STOCK_REASONS

MAX_THRESHOLD = 1_000_000
REASONS = tuple(r for r in STOCK_REASONS if r != "initial")


def read_product(fields: Fields, creating: bool):
    """The product fields present in the input, validated; `fields.check()` raises on errors."""
    out = {}
    if creating or fields.has("name"):
        out["name"] = fields.text("name", required=True, max_length=200)
    if fields.has("sku"):
        out["sku"] = fields.text("sku", max_length=64)
    if fields.has("category"):
        out["category"] = fields.text("category", max_length=80)
    if fields.has("low_stock_threshold"):
        out["low_stock_threshold"] = fields.integer("low_stock_threshold", minimum=0, maximum=MAX_THRESHOLD,
                                                    nullable=True)
    if creating and fields.has("stock"):
        out["stock"] = fields.integer("stock", minimum=0, maximum=MAX_STOCK) or 0
    if not creating and fields.has("active"):
        out["active"] = fields.boolean("active")
    if not creating and fields.has("stock"):
        fields.error("stock", "Change stock with POST /api/products/<id>/stock, so it is recorded.")
    read_purchasing(fields, out)
    return out


PURCHASING_FIELDS = ("supplier_id", "cost_price", "sell_price", "reorder_quantity", "max_stock", "pack_size")


def read_purchasing(fields: Fields, out):
    """What an order needs of a product: its supplier (an id, or null), prices as exact decimals,
    the reorder quantity, the level an order fills up to, and the pack size."""
    if fields.has("supplier_id"):
        out["supplier_id"] = fields.integer("supplier_id", minimum=1, maximum=MAX_ID, nullable=True)
    for name in ("cost_price", "sell_price"):
        if fields.has(name):
            out[name] = fields.decimal(name)
    if fields.has("reorder_quantity"):
        out["reorder_quantity"] = fields.integer("reorder_quantity", minimum=1, maximum=MAX_STOCK, nullable=True)
    if fields.has("max_stock"):
        out["max_stock"] = fields.integer("max_stock", minimum=0, maximum=MAX_STOCK, nullable=True)
    if fields.has("pack_size"):
        out["pack_size"] = fields.integer("pack_size", required=True, minimum=1, maximum=MAX_STOCK)


def read_category(fields: Fields, creating: bool):
    """The category fields present in the input: name and its threshold (null: the shop's)."""
    out = {}
    if creating or fields.has("name"):
        out["name"] = fields.text("name", required=True, max_length=80)
    if fields.has("low_stock_threshold"):
        out["low_stock_threshold"] = fields.integer("low_stock_threshold", minimum=0, maximum=MAX_THRESHOLD,
                                                    nullable=True)
    return out


def read_stock_change(fields: Fields):
    """(reason, delta, quantity): exactly one of delta and quantity."""
    reason = fields.choice("reason", REASONS, required=True)
    has_delta = fields.has("delta") and fields.data.get("delta") not in (None, "")
    has_quantity = fields.has("quantity") and fields.data.get("quantity") not in (None, "")
    delta = quantity = None
    if has_delta == has_quantity:
        fields.error("delta", "Give either delta or quantity (one of them).")
    elif has_delta:
        delta = fields.integer("delta", required=True, minimum=-MAX_STOCK, maximum=MAX_STOCK)
        if delta == 0:
            fields.error("delta", "Must not be zero.")
    else:
        quantity = fields.integer("quantity", required=True, minimum=0, maximum=MAX_STOCK)
    return reason, delta, quantity


SUBTRACTING = ("sale", "damage")  # the others add, except a count, which sets the quantity


def read_stock_amount(fields: Fields):
    """(reason, delta, quantity) from the page's form: a positive `amount` whose direction the
    reason sets (sale and damage subtract, delivery and return add, count sets the stock to it)."""
    reason = fields.choice("reason", REASONS, required=True)
    amount = fields.integer("amount", required=True, minimum=0, maximum=MAX_STOCK)
    if reason is None or amount is None:
        return reason, None, None
    if reason == "count":
        return reason, None, amount
    if amount == 0:
        fields.error("amount", "Must be at least 1.")
        return reason, None, None
    return reason, -amount if reason in SUBTRACTING else amount, None


def check_may_silence(product, values):
    """Thresholds and archiving can silence alerts: owners and managers only (403 for staff).
    `product` None is a new product; a value sent unchanged (a whole form sent back) is no change."""
    if current_user.can_manage:
        return
    changed = [name for name in ("low_stock_threshold", "active")
               if name in values and values[name] != (getattr(product, name) if product else
                                                       (None if name == "low_stock_threshold" else True))]
    if changed:
        raise ApiError(403, "Only owners and managers can change a threshold or archive a product.",
                       {name: "Owners and managers only." for name in changed})
