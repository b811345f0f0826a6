"""Categories, products and stock: the /retail pages and /api/products, /api/categories."""
from flask import Blueprint, request

bp = Blueprint("retail", __name__)
IMPORT_MAX_BYTES = 16 * 1024 * 1024 + 64 * 1024  # a 16 MiB CSV and its multipart wrapping; other bodies keep 1 MiB
IMPORT_ENDPOINTS = ("retail.api_import_products", "retail.import_page")


@bp.record_once
def _allow_large_imports(state):
    """The import's body limit, set before anything reads the body (the CSRF check reads the form
    first, so a blueprint's before_request would come too late)."""
    def allow():
        if request.endpoint in IMPORT_ENDPOINTS:
            request.max_content_length = IMPORT_MAX_BYTES

    state.app.before_request_funcs.setdefault(None, []).insert(0, allow)


from . import api, location_views, locations_api, views  # noqa: E402,F401
