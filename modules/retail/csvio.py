"""Products as CSV (name,sku,category,stock,low_stock_threshold,active, then purchasing's columns:
csv_purchasing.py): the export, streamed,
and the import, read as a stream in bounded memory (lines and their length bounded, at most
MAX_REPORTED bad lines named), every cell checked by the JSON API's own readers
(validation.Fields), validated whole before anything is written, then applied in a few
set-based statements (bulk inserts and updates, one alert check for every changed product).

Cells that a spreadsheet would run as a formula (starting with = + - @, tab or CR) are written
with a leading single quote; the import takes that quote off again, so an export imports as is."""
import csv
import io
from dataclasses import dataclass, field

from sqlalchemy import and_, bindparam, func, insert, update
from sqlalchemy.exc import IntegrityError

from ..auth.tenancy import for_shop
from ..auth.models import Client
from ..dialect import insert as upsert
from ..dialect import lock_for_write
from ..extensions import db
from ..timeutil import utcnow
from ..validation import FORBIDDEN, Fields
from . import csv_purchasing, locations
from .forms import MAX_STOCK, MAX_THRESHOLD
from .models import Category, Product, ProductStock, StockMovement
from .moves import Move, apply_moves, place_stock
from .service import SUPPLIERS
from .signals import announce_stock_change

COLUMNS = ("name", "sku", "category", "stock", "low_stock_threshold", "active") + csv_purchasing.COLUMNS
MAX_LINES = 50_000  # lines after the header, blank ones included
MAX_LINE_CHARS = 8192  # a product's line is under 1,000 characters even with every cell quoted
MAX_REPORTED = 100  # bad lines named in the answer; the others are counted in "more"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
LIMITS = {"name": 200, "sku": 64, "category": 80}
TRUE, FALSE = ("true", "1", "yes", ""), ("false", "0", "no")
CHUNK = 1000  # ids per IN list, well under SQLite's bound-parameter limit


class ImportConflict(Exception):
    """Another change made the same SKU at the same moment: nothing was imported."""


class ImportRefused(Exception):
    """The file is refused: `details` names at most MAX_REPORTED bad lines, `more` counts the rest."""

    def __init__(self, details, message="The file has errors; nothing was imported.", more=0):
        super().__init__(message)
        self.message = message
        self.details = details
        self.more = more


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


def export_rows(client_id, location_id=None):
    """The CSV's lines, header first, every product of the shop (archived ones too), by name, with
    its stock and threshold at `location_id` (one the caller checked); without it, the default
    location's stock and the products' own thresholds (so that an export and an import of a shop
    round-trip)."""
    place = location_id or locations.default_location_id(client_id)
    at_place = and_(ProductStock.product_id == Product.id, ProductStock.location_id == place)
    threshold = ProductStock.low_stock_threshold if location_id else Product.low_stock_threshold
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def line(row):
        writer.writerow(row)
        value = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return value

    yield line(COLUMNS)
    stmt = (for_shop(Product, client_id, Product.name, Product.sku, Category.name,
                     func.coalesce(ProductStock.stock, 0), threshold, Product.active, SUPPLIERS.c.name,
                     Product.cost_price, Product.sell_price, Product.reorder_quantity, Product.max_stock,
                     Product.pack_size)
            .outerjoin(ProductStock, at_place)
            .outerjoin(Category, Category.id == Product.category_id)
            .outerjoin(SUPPLIERS, (SUPPLIERS.c.id == Product.supplier_id) & (SUPPLIERS.c.client_id == client_id))
            .order_by(Product.name, Product.id))
    for name, sku, category, stock, threshold, active, *purchasing in db.session.execute(
            stmt.execution_options(yield_per=1000)):
        cells = csv_purchasing.export_cells(*purchasing)
        yield line([guard(name), guard(sku or ""), guard(category or ""), stock,
                    "" if threshold is None else threshold, "true" if active else "false", guard(cells[0]), *cells[1:]])


# --- import: reading ----------------------------------------------------------------------------

@dataclass(slots=True)
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


class _FileTooLong(Exception):
    pass


class _LineTooLong(Exception):
    def __init__(self, line):
        super().__init__(line)
        self.line = line


def _lines(text):
    """The file's text line by line, as csv.reader reads it, read as a stream: a line longer than
    MAX_LINE_CHARS or more than MAX_LINES lines after the header (blank ones included) end the
    reading, so neither one huge line nor millions of short ones cost memory or time."""
    count = 0
    while True:
        line = text.readline(MAX_LINE_CHARS + 1)
        if not line:
            return
        count += 1
        if len(line) > MAX_LINE_CHARS:
            raise _LineTooLong(count)
        if count > MAX_LINES + 1:
            raise _FileTooLong()
        yield line


def _read_row(line, header, record):
    """(Row, None) or (None, "what is wrong"): every cell through the JSON API's own checks
    (validation.Fields, as a form's text: the same text rules, the same whole numbers)."""
    if len(record) != len(header):
        return None, f"Expected {len(header)} cells, found {len(record)}."
    cells = dict(zip(header, record))
    fields = Fields({column: unguard(value.strip()) if column in LIMITS else value
                     for column, value in cells.items()}, form=True)
    for column, value in cells.items():  # as the JSON API's check of every string, before any trimming
        if FORBIDDEN.search(value):
            fields.error(column, "Must not contain control characters or line breaks.")
    name = fields.text("name", required=True, max_length=LIMITS["name"])
    sku = fields.text("sku", max_length=LIMITS["sku"])
    category = fields.text("category", max_length=LIMITS["category"])
    stock = fields.integer("stock", minimum=0, maximum=MAX_STOCK)
    threshold = fields.integer("low_stock_threshold", minimum=0, maximum=MAX_THRESHOLD)
    active = cells.get("active", "").strip().lower()
    if active not in TRUE + FALSE:
        fields.error("active", "Must be true or false.")
    wrong = []
    purchasing = csv_purchasing.read_cells({k: unguard(v) for k, v in cells.items()}, wrong)
    if fields.errors or wrong:
        return None, " ".join([f"{column}: {problem}" for column, problem in fields.errors.items()] + wrong)
    return Row(line, name, sku, category, stock, threshold, active not in FALSE, "low_stock_threshold" in cells,
               purchasing), None


def read_csv(stream):
    """Every line of the file (a binary stream, read as it comes) as a Row, or ImportRefused
    naming the first MAX_REPORTED bad lines ("line <n>") and counting the others (`more`)."""
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    reader = csv.reader(_lines(text))
    rows, skus = [], {}
    problems, more = {}, 0

    def problem(key, what):
        nonlocal more
        if len(problems) < MAX_REPORTED:
            problems[key] = what
        else:
            more += 1

    try:
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
        while True:
            before = reader.line_num
            try:
                record = next(reader)
            except StopIteration:
                break
            except csv.Error as e:
                problem(f"line {reader.line_num}", f"Not valid CSV ({e}).")
                if reader.line_num == before:
                    break
                continue
            line = reader.line_num
            if not any(cell.strip() for cell in record):
                continue  # a blank line
            row, wrong = _read_row(line, header, record)
            if row is not None and row.sku is not None:
                key = row.sku.lower()
                if key in skus:
                    row, wrong = None, f"sku: {row.sku} is already on line {skus[key]}."
                skus.setdefault(key, line)
            if wrong:
                problem(f"line {line}", wrong)
            else:
                rows.append(row)
    except UnicodeDecodeError:
        raise ImportRefused({"file": "Must be UTF-8 text."})
    except _LineTooLong as e:
        problem(f"line {e.line}", f"Longer than {MAX_LINE_CHARS:,} characters; nothing after it was read.")
    except _FileTooLong:
        problems["file"] = f"At most {MAX_LINES:,} lines per file; nothing after that was read."
    finally:
        text.detach()  # the upload's stream is Werkzeug's to close
    if problems:
        raise ImportRefused(problems, more=more)
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


def import_products(client_id, user_id, rows, location_id=None):
    """Apply validated rows, all in the caller's transaction: SKUs the shop has update those
    products, the others become new ones; a stock that changes is a movement (source "import")
    at `location_id` (one the caller checked), whose stock and threshold the file holds; without
    it, the default location's stock and the products' own thresholds. Returns {"created": n,
    "updated": n}."""
    now = utcnow()
    place = location_id or locations.default_location_id(client_id)
    lock_for_write(Client, Client.id == client_id)  # SQLite: the write lock first, so that what we read stays true
    unknown_suppliers = csv_purchasing.resolve(client_id, rows, SUPPLIERS)
    if unknown_suppliers:
        named = dict(list(unknown_suppliers.items())[:MAX_REPORTED])
        raise ImportRefused(named, more=len(unknown_suppliers) - len(named))
    categories = _category_ids(client_id, rows)
    existing = _existing(client_id, rows)
    here = place_stock(client_id, [pid for pid, _ in existing.values()], [place])
    at_place = location_id is not None  # the file's thresholds are the location's
    new, new_stock, changes, moves, thresholds = [], [], [], [], []
    for row in rows:
        values = {"name": row.name, "category_id": categories.get(row.category.lower()) if row.category else None,
                  "active": row.active, "updated_at": now, **row.purchasing}
        if row.has_threshold and not at_place:
            values["low_stock_threshold"] = row.low_stock_threshold
        match = existing.get(row.sku) if row.sku is not None else None
        if match is None:
            new.append({**values, "client_id": client_id, "sku": row.sku, "stock": row.stock or 0,
                        "low_stock_threshold": None if at_place else row.low_stock_threshold, "created_at": now})
            new_stock.append(row)
            continue
        product_id, _ = match
        stock = here.get((product_id, place), 0)
        if row.stock is not None and row.stock != stock:
            moves.append(Move(product_id, place, row.stock - stock, "count"))
        if at_place and row.has_threshold:
            thresholds.append((product_id, row.low_stock_threshold))
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
        # New products: written with their stock, carried at the place with it, and one movement
        # each (plain INSERTs: nothing to add to).
        threshold_here = {pid: row.low_stock_threshold for (pid, _), row in zip(created, new_stock)
                          if at_place and row.has_threshold}
        db.session.connection().execute(insert(ProductStock.__table__), [
            {"client_id": client_id, "product_id": pid, "location_id": place, "stock": stock,
             "low_stock_threshold": threshold_here.get(pid), "updated_at": now} for pid, stock in created])
        movements = [{"client_id": client_id, "product_id": pid, "location_id": place, "delta": stock,
                      "stock_after": stock, "reason": "initial", "user_id": user_id, "source": "import",
                      "note": None, "created_at": now} for pid, stock in created if stock]
        if movements:
            db.session.connection().execute(insert(StockMovement.__table__), movements)
    apply_moves(client_id, moves, user_id, source="import", now=now)
    if thresholds:
        table = ProductStock.__table__
        # A threshold set makes the place carry the product; an empty cell is none set, so a
        # place's export imported back leaves the products it does not carry uncarried (not out).
        carried = [{"client_id": client_id, "product_id": pid, "location_id": place, "stock": 0, "updated_at": now}
                   for pid, value in thresholds if value is not None]
        if carried:
            db.session.execute(upsert(ProductStock).on_conflict_do_nothing(
                index_elements=["product_id", "location_id"]), carried)
        db.session.execute(update(table).where(table.c.product_id == bindparam("b_pid"),
                                               table.c.location_id == place)
                           .values(low_stock_threshold=bindparam("b_threshold")),
                           [{"b_pid": pid, "b_threshold": value} for pid, value in thresholds])
    db.session.flush()
    # One alert check for every product the file touched (stock, threshold or archiving).
    announce_stock_change(client_id, ids, user_id)
    return {"created": len(new), "updated": len(changes)}
