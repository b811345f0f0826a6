"""Reading a supplier or a purchase order's lines out of a JSON body, the contract's way."""
from email_validator import EmailNotValidError, validate_email

from ..auth.tenancy import for_shop
from ..errors import ApiError, ValidationError
from ..extensions import db
from ..retail.models import MAX_STOCK, Product
from ..validation import MAX_ID, Fields

SUPPLIER_FIELDS = ("name", "email", "phone", "lead_time_days", "notes")
MAX_LINES = 500


def read_supplier(fields: Fields, creating: bool):
    out = {}
    if creating or fields.has("name"):
        out["name"] = fields.text("name", required=True, max_length=200)
    if fields.has("email"):
        email = fields.text("email", max_length=254)
        if email is not None:
            try:
                email = validate_email(email, check_deliverability=False).normalized
            except EmailNotValidError as e:
                fields.error("email", f"Not a valid email address: {e}")
        out["email"] = email
    if fields.has("phone"):
        out["phone"] = fields.text("phone", max_length=32)
    if fields.has("lead_time_days"):
        out["lead_time_days"] = fields.integer("lead_time_days", required=True, minimum=0, maximum=365)
    if fields.has("notes"):
        out["notes"] = fields.text("notes", max_length=2000, multiline=True)
    return out


def read_lines(client_id, data, name="lines", with_cost=True, minimum=1):
    """[(product, quantity, unit_cost)] of `data[name]`: each a product of the shop (another shop's
    id: 404) at most once, a quantity 1..MAX_STOCK and an optional unit cost."""
    lines = data.get(name)
    if not isinstance(lines, list) or not minimum <= len(lines) <= MAX_LINES:
        raise ValidationError({name: f"Must be a list of {minimum} to {MAX_LINES} lines."})
    errors, parsed = {}, []
    allowed = {"product_id", "quantity"} | ({"unit_cost"} if with_cost else set())
    for n, line in enumerate(lines):
        if not isinstance(line, dict) or set(line) - allowed:
            errors[f"{name}[{n}]"] = "Must be an object with " + ", ".join(sorted(allowed)) + "."
            continue
        fields = Fields(line)
        product_id = fields.integer("product_id", required=True, minimum=1, maximum=MAX_ID)
        quantity = fields.integer("quantity", required=True, minimum=1, maximum=MAX_STOCK)
        cost = fields.decimal("unit_cost") if with_cost else None
        if fields.errors:
            errors.update({f"{name}[{n}].{k}": v for k, v in fields.errors.items()})
        else:
            parsed.append((product_id, quantity, cost))
    ids = [p for p, _, _ in parsed]
    if len(set(ids)) != len(ids):
        errors[name] = "A product may appear once."
    if errors:
        raise ValidationError(errors)
    products = {p.id: p for p in db.session.execute(
        for_shop(Product, client_id).where(Product.id.in_(ids))).unique().scalars()} if ids else {}
    missing = [pid for pid in ids if pid not in products]
    if missing:
        raise ApiError(404, f"No such product: {missing[0]}.", {name: f"No such product: {missing[0]}."})
    return [(products[pid], quantity, cost) for pid, quantity, cost in parsed]
