"""Products as CSV (name,sku,category,stock,low_stock_threshold,active, then purchasing's columns:
csv_purchasing.py): the export, streamed,
and the import, validated whole before anything is written, then applied in a few set-based
statements (bulk inserts and updates, one alert check for every changed product).

Cells that a spreadsheet would run as a formula (starting with = + - @, tab or CR) are written
with a leading single quote; the import takes that quote off again, so an export imports as is."""
import csv
import io
from dataclasses import dataclass, field

from sqlalchemy import func, insert, update
from sqlalchemy.exc import IntegrityError

from ..auth.tenancy import for_shop
from ..auth.models import Client
from ..dialect import insert as upsert
from ..dialect import lock_for_write
from ..extensions import db
from ..timeutil import utcnow
from .forms import MAX_STOCK, MAX_THRESHOLD
from . import csv_purchasing
from .models import Category, Product, StockMovement
from .service import SUPPLIERS
from .signals import announce_stock_change

COLUMNS = ("name", "sku", "category", "stock", "low_stock_threshold", "active") + csv_purchasing.COLUMNS
MAX_LINES = 50_000
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
LIMITS = {"name": 200, "sku": 64, "category": 80}
TRUE, FALSE = ("true", "1", "yes", ""), ("false", "0", "no")
CHUNK = 1000  # ids per IN list, well under SQLite's bound-parameter limit


class ImportConflict(Exception):
    """Another change made the same SKU at the same moment: nothing was imported."""


class ImportRefused(Exception):
    def __init__(self, details, message="The file has errors; nothing was imported."):
        super().__init__(message)
        self.message = message
        self.details = details


# --- export -----------------------------------------------------------------------------------

def guard(text):
    """A text cell as a spreadsheet will show it, never run it (and a text that already looks
    guarded gets a quote too, so that the import gives it back unchanged)."""
    if text and (text.startswith(FORMULA_STARTS) or (text.startswith("'") and text[1:].startswith(FORMULA_STARTS))):
        return "'" + text
    return text


def unguard(text):
    """guard()'s inverse: the quote comes off only where guard() would have put it."""
    return text[1:] if text.startswith("'") and guard(text[1:]) == text else text


def export_rows(client_id):
    """The CSV's lines, header first, every product of the shop (archived ones too), by name."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def line(row):
        writer.writerow(row)
        value = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return value

    yield line(COLUMNS)
    stmt = (for_shop(Product, client_id, Product.name, Product.sku, Category.name, Product.stock,
                     Product.low_stock_threshold, Product.active, SUPPLIERS.c.name, Product.cost_price,
                     Product.sell_price, Product.reorder_quantity, Product.max_stock, Product.pack_size)
            .outerjoin(Category, Category.id == Product.category_id)
            .outerjoin(SUPPLIERS, (SUPPLIERS.c.id == Product.supplier_id) & (SUPPLIERS.c.client_id == client_id))
            .order_by(Product.name, Product.id))
    for name, sku, category, stock, threshold, active, *purchasing in db.session.execute(
            stmt.execution_options(yield_per=1000)):
        cells = csv_purchasing.export_cells(*purchasing)
        yield line([guard(name), guard(sku or ""), guard(category or ""), stock,
                    "" if threshold is None else threshold, "true" if active else "false", guard(cells[0]), *cells[1:]])


# --- import: reading ----------------------------------------------------------------------------

@dataclass
class Row:
    line: int
    name: str
    sku: str | None
    category: str | None
    stock: int | None  # None: keep a matched product's stock (0 for a new one)
    low_stock_threshold: int | None
    active: bool
    has_threshold: bool
    purchasing: dict = field(default_factory=dict)  # the purchasing columns the file has


def _text(value, column, errors, required=False):
    value = unguard(value.strip())
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        errors.append(f"{column}: control characters are not allowed.")
        return None
    if not value:
        if required:
            errors.append(f"{column}: required.")
        return None
    if len(value) > LIMITS[column]:
        errors.append(f"{column}: at most {LIMITS[column]} characters.")
        return None
    return value


def _integer(value, column, maximum, errors):
    value = value.strip()
    if not value:
        return None
    if not value.isdigit():
        errors.append(f"{column}: must be a whole number from 0 to {maximum}.")
        return None
    number = int(value)
    if number > maximum:
        errors.append(f"{column}: must be at most {maximum}.")
        return None
    return number


def read_csv(raw: bytes):
    """Every line of the file as a Row, or ImportRefused naming each bad line ("line <n>")."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ImportRefused({"file": "Must be UTF-8 text."})
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise ImportRefused({"file": "The file is empty."})
    except csv.Error as e:
        raise ImportRefused({"line 1": f"Not valid CSV ({e})."})
    unknown = [h for h in header if h not in COLUMNS]
    if "name" not in header or unknown or len(set(header)) != len(header):
        raise ImportRefused({"line 1": "The header must name the columns " + ",".join(COLUMNS)
                             + " (name required; each once)."})
    rows, problems, skus = [], {}, {}
    try:
        for record in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in record):
                continue  # a blank line
            if len(rows) >= MAX_LINES:
                raise ImportRefused({"file": f"At most {MAX_LINES} lines per file."})
            errors = []
            if len(record) != len(header):
                problems[f"line {line}"] = f"Expected {len(header)} cells, found {len(record)}."
                continue
            cells = dict(zip(header, record))
            row = Row(line, _text(cells["name"], "name", errors, required=True),
                      _text(cells.get("sku", ""), "sku", errors), _text(cells.get("category", ""), "category", errors),
                      _integer(cells.get("stock", ""), "stock", MAX_STOCK, errors),
                      _integer(cells.get("low_stock_threshold", ""), "low_stock_threshold", MAX_THRESHOLD, errors),
                      True, "low_stock_threshold" in cells)
            active = cells.get("active", "").strip().lower()
            if active not in TRUE + FALSE:
                errors.append("active: must be true or false.")
            row.active = active not in FALSE
            row.purchasing = csv_purchasing.read_cells({k: unguard(v) for k, v in cells.items()}, errors)
            if row.sku is not None:
                key = row.sku.lower()
                if key in skus:
                    errors.append(f"sku: {row.sku} is already on line {skus[key]}.")
                skus.setdefault(key, line)
            if errors:
                problems[f"line {line}"] = " ".join(errors)
            else:
                rows.append(row)
    except csv.Error as e:
        problems[f"line {reader.line_num}"] = f"Not valid CSV ({e})."
    if problems:
        raise ImportRefused(problems)
    if not rows:
        raise ImportRefused({"file": "The file has no products."})
    return rows


# --- import: writing ----------------------------------------------------------------------------

def _category_ids(client_id, rows):
    """{lower(name): id} of the file's categories, creating the new ones (the UNIQUE index on
    (client_id, lower(name)) decides)."""
    names = {}
    for row in rows:
        if row.category:
            names.setdefault(row.category.lower(), row.category)
    if not names:
        return {}
    db.session.execute(upsert(Category).values([{"client_id": client_id, "name": n} for n in names.values()])
                       .on_conflict_do_nothing())
    found = {}
    keys = list(names)
    for start in range(0, len(keys), CHUNK):
        found.update(db.session.execute(
            for_shop(Category, client_id, func.lower(Category.name), Category.id)
            .where(func.lower(Category.name).in_(keys[start:start + CHUNK]))).all())
    return found


def _existing(client_id, rows):
    """{sku: (id, stock)} of the shop's products whose SKU the file names, locked for the update."""
    skus = [row.sku for row in rows if row.sku is not None]
    found = {}
    for start in range(0, len(skus), CHUNK):
        stmt = (for_shop(Product, client_id, Product.sku, Product.id, Product.stock)
                .where(Product.sku.in_(skus[start:start + CHUNK])).with_for_update())
        found.update({sku: (pid, stock) for sku, pid, stock in db.session.execute(stmt)})
    return found


def import_products(client_id, user_id, rows):
    """Apply validated rows, all in the caller's transaction: SKUs the shop has update those
    products, the others become new ones; a stock that changes is a movement (source "import").
    Returns {"created": n, "updated": n}."""
    now = utcnow()
    lock_for_write(Client, Client.id == client_id)  # SQLite: the write lock first, so that what we read stays true
    unknown_suppliers = csv_purchasing.resolve(client_id, rows, SUPPLIERS)
    if unknown_suppliers:
        raise ImportRefused(unknown_suppliers)
    categories = _category_ids(client_id, rows)
    existing = _existing(client_id, rows)
    new, changes, movements = [], [], []
    for row in rows:
        values = {"name": row.name, "category_id": categories.get(row.category.lower()) if row.category else None,
                  "active": row.active, "updated_at": now, **row.purchasing}
        if row.has_threshold:
            values["low_stock_threshold"] = row.low_stock_threshold
        match = existing.get(row.sku) if row.sku is not None else None
        if match is None:
            new.append({**values, "client_id": client_id, "sku": row.sku, "stock": row.stock or 0,
                        "low_stock_threshold": row.low_stock_threshold, "created_at": now})
            continue
        product_id, stock = match
        if row.stock is not None and row.stock != stock:
            values["stock"] = row.stock
            movements.append({"client_id": client_id, "product_id": product_id, "delta": row.stock - stock,
                              "stock_after": row.stock, "reason": "count", "user_id": user_id,
                              "source": "import", "created_at": now})
        changes.append({"id": product_id, **values})
    ids = [change["id"] for change in changes]
    if changes:
        db.session.execute(update(Product), changes)  # ORM bulk UPDATE by primary key: executemany
    if new:
        # Core, not the ORM's bulk insert: the ORM splits rows by which values are None and
        # splices RETURNING across the batches (quadratic); Core sends them as a few batches.
        products = Product.__table__
        try:
            with db.session.begin_nested():  # a SKU created meanwhile by another request: refuse, no 500
                created = db.session.connection().execute(
                    insert(products).returning(products.c.id, products.c.stock, sort_by_parameter_order=True),
                    new).all()
        except IntegrityError:
            raise ImportConflict()
        ids += [pid for pid, _ in created]
        movements += [{"client_id": client_id, "product_id": pid, "delta": stock, "stock_after": stock,
                       "reason": "initial", "user_id": user_id, "source": "import", "created_at": now}
                      for pid, stock in created if stock]
    if movements:
        db.session.connection().execute(insert(StockMovement.__table__), movements)
    db.session.flush()
    # One alert check for every product the file touched (stock, threshold or archiving).
    announce_stock_change(client_id, ids, user_id)
    return {"created": len(new), "updated": len(changes)}
