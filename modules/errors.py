"""Errors answered as JSON under /api (the contract's shape) and as pages elsewhere."""
import logging

from flask import jsonify, render_template, request
from markupsafe import escape
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from .extensions import db
from .outage import is_database_failure, report

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An error with the contract's body: {"error": sentence, "details": {field: problem}}."""

    def __init__(self, status, message, details=None, headers=None, extra=None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details or {}
        self.headers = headers or {}  # e.g. Retry-After on a 429
        self.extra = extra or {}  # more top-level fields of the body (a CSV import's "more")


class ValidationError(ApiError):
    def __init__(self, details, message="The request has invalid fields."):
        super().__init__(400, message, details)


def wants_json():
    return request.path.startswith("/api/") or (
        request.accept_mimetypes.best == "application/json"
    )


def error_response(status, message, details=None, extra=None):
    if wants_json():
        return jsonify({"error": message, "details": details or {}, **(extra or {})}), status
    try:
        return render_template("error.html", status=status, message=message), status
    except Exception:  # the page needs the database (the signed-in user): say it plainly instead
        return f"<!doctype html><html><title>{status}</title><p>{escape(message)}</p></html>", status


def init_app(app):
    @app.errorhandler(ApiError)
    def _api_error(e):
        db.session.rollback()
        response, status = error_response(e.status, e.message, e.details, e.extra)
        return response, status, e.headers

    @app.errorhandler(CSRFError)
    def _csrf_error(e):
        # The CSRF check runs before the sign-in check: not signed in is still the answer, 401.
        if request.path.startswith("/api/") and not current_user.is_authenticated:
            return error_response(401, "Sign in first.")
        return error_response(400, "The CSRF token is missing or invalid; reload the page and try again.")

    @app.errorhandler(HTTPException)
    def _http_error(e):
        messages = {
            404: "Not found.",
            405: "Method not allowed.",
            413: "The request is too large.",
            415: "The request body must be JSON.",
            429: "Too many attempts; try again later.",
        }
        return error_response(e.code, messages.get(e.code, e.description or e.name))

    @app.errorhandler(Exception)
    def _unexpected(e):
        try:
            db.session.rollback()
        except Exception:  # a dropped connection cannot even roll back; the pool replaces it
            pass
        if is_database_failure(e):
            report(f"{request.method} {request.path}", e)
            return error_response(503, "The database is not answering; try again in a moment.")
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "Something went wrong on our side.")
