"""Categories, products and stock: the /retail pages and /api/products, /api/categories."""
from flask import Blueprint

bp = Blueprint("retail", __name__)

from . import api, views  # noqa: E402,F401
