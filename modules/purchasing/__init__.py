"""Suppliers, purchase orders, the reorder list and the stock's value: /api/suppliers,
/api/purchase-orders, /api/reorder, /api/reports/stock-value and the /reorder page."""
from flask import Blueprint

bp = Blueprint("purchasing", __name__)

from . import api, views  # noqa: E402,F401
