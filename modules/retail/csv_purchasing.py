"""The purchasing columns of the products CSV, at the end of its columns: supplier (by name),
cost_price, sell_price, reorder_quantity, max_stock, pack_size. Read cell by cell (the columns a
file has are the ones it changes) and written from the product's row."""
import re
from decimal import Decimal

from sqlalchemy import func, select

from ..extensions import db
from .models import MAX_STOCK

COLUMNS = ("supplier", "cost_price", "sell_price", "reorder_quantity", "max_stock", "pack_size")
_MONEY = re.compile(r"\d{1,10}(\.\d{1,2})?")
_MINIMUM = {"reorder_quantity": 1, "max_stock": 0, "pack_size": 1}


def read_cells(cells, errors):
    """{field: value} of the purchasing columns present in `cells`; the supplier as its name
    (`supplier_name`), matched to the shop's suppliers by resolve()."""
    out = {}
    if "supplier" in cells:
        out["supplier_name"] = cells["supplier"].strip() or None
    for name in ("cost_price", "sell_price"):
        if name in cells:
            value = cells[name].strip()
            if value and not _MONEY.fullmatch(value):
                errors.append(f"{name}: must be an amount such as 3.20.")
            else:
                out[name] = Decimal(value) if value else None
    for name in ("reorder_quantity", "max_stock", "pack_size"):
        if name in cells:
            value = cells[name].strip()
            if not value and name != "pack_size":
                out[name] = None
            elif not (value.isascii() and value.isdigit()) or not _MINIMUM[name] <= int(value) <= MAX_STOCK:
                errors.append(f"{name}: must be a whole number from {_MINIMUM[name]} to {MAX_STOCK}.")
            else:
                out[name] = int(value)
    return out


def resolve(client_id, rows, suppliers_table):
    """Replace each row's supplier name by its id (a name of the shop's, in any case); returns
    {"line <n>": problem} for the names the shop has no supplier of."""
    names = {row.purchasing["supplier_name"].lower() for row in rows if row.purchasing.get("supplier_name")}
    known = {}
    if names:
        known = dict(db.session.execute(select(func.lower(suppliers_table.c.name), suppliers_table.c.id).where(
            suppliers_table.c.client_id == client_id, func.lower(suppliers_table.c.name).in_(names))).all())
    problems = {}
    for row in rows:
        if "supplier_name" not in row.purchasing:
            continue
        name = row.purchasing.pop("supplier_name")
        if name is not None and name.lower() not in known:
            problems[f"line {row.line}"] = f"supplier: the shop has no supplier named {name}."
        row.purchasing["supplier_id"] = known.get(name.lower()) if name else None
    return problems


def export_cells(supplier, cost_price, sell_price, reorder_quantity, max_stock, pack_size):
    def blank(value):
        return "" if value is None else value

    return [supplier or "", "" if cost_price is None else f"{cost_price:.2f}",
            "" if sell_price is None else f"{sell_price:.2f}", blank(reorder_quantity), blank(max_stock), pack_size]
