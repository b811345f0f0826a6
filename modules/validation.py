"""Input read once at the edge: JSON bodies and HTML forms checked field by field into the
contract's error shape. Everything inside trusts what comes out of here. `init_app` adds the
checks no route may skip: ids in paths within the database's integer range, and no NUL, control
character, lone surrogate, malformed, over-deep or non-UTF-8 JSON anywhere in a request."""
import json
import re
from decimal import Decimal

from flask import g, request
from werkzeug.routing import IntegerConverter

from .errors import ApiError, ValidationError

MAX_ID = 2**31 - 1  # PostgreSQL's integer; a larger id names no row
MAX_JSON_DEPTH = 32
_MONEY = re.compile(r"\d{1,10}(\.\d{1,2})?")  # an amount: digits, at most two decimal places
# What no field accepts: C0 controls but tab, newline and carriage return; DEL; C1; lone surrogates.
FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
# What a one-line field does not accept either.
LINE_BREAKS = re.compile("[\t\n\r\u2028\u2029]")
# A whole number as text: ASCII digits, an optional minus. Not int(), which also takes other
# scripts' digits ("١٢"), underscores ("1_000") and a plus, while "²" and "①" pass isdigit().
WHOLE_NUMBER = re.compile("-?[0-9]{1,30}")


def whole_number(text):
    """The integer `text` spells (spaces around allowed), or None when it is not a whole number."""
    text = text.strip()
    return int(text) if WHOLE_NUMBER.fullmatch(text) else None


def digits_up_to(limit):
    """A regular expression for the whole numbers 0..`limit` (leading zeros allowed)."""
    text = str(limit)
    shorter = [rf"\d{{1,{len(text) - 1}}}"] if len(text) > 1 else []
    below = []  # the numbers as long as `limit` that are smaller: its first i digits, then a smaller one
    for i, digit in enumerate(text):
        lowest = 1 if i == 0 and len(text) > 1 else 0  # no leading zero: those are `shorter`
        if int(digit) > lowest:
            rest = len(text) - i - 1
            below.append(f"{text[:i]}[{lowest}-{int(digit) - 1}]" + (rf"\d{{{rest}}}" if rest else ""))
    return "0*(?:" + "|".join(shorter + below + [text]) + ")"


class IdConverter(IntegerConverter):
    """`<int:...>` in every route: an id past the database's integer range matches nothing (404).
    The range is in the regex too: Werkzeug checks a route's method before its converter, so an
    id refused only by the converter answered 405 where a GET route shares the path."""

    regex = digits_up_to(MAX_ID)

    def __init__(self, map, fixed_digits=0, min=None, max=MAX_ID, signed=False):
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def _problem(value, depth=0):
    """What is wrong with a parsed JSON value (too deep, a forbidden character), or None."""
    if depth > MAX_JSON_DEPTH:
        return f"The JSON is nested more than {MAX_JSON_DEPTH} levels deep."
    if isinstance(value, str):
        return "Text must not contain control characters or lone surrogates." if FORBIDDEN.search(value) else None
    if isinstance(value, dict):
        items = [*value.keys(), *value.values()]
    elif isinstance(value, list):
        items = value
    else:
        return None
    for item in items:
        problem = _problem(item, depth + 1)
        if problem:
            return problem
    return None


def read_json():
    """The request's JSON body parsed strictly once (UTF-8, depth, characters); 400 when it is not."""
    if "json_body" in g:
        return g.json_body
    raw = request.get_data(cache=True)
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ApiError(400, "The request body must be UTF-8.", {"body": "Not UTF-8."})
    except RecursionError:
        raise ApiError(400, f"The JSON is nested more than {MAX_JSON_DEPTH} levels deep.", {"body": "Too deep."})
    except ValueError:
        raise ApiError(400, "The request body is not valid JSON.", {"body": "Malformed JSON."})
    problem = _problem(data)
    if problem:
        raise ApiError(400, problem, {"body": problem})
    g.json_body = data
    return data


def _check_request():
    """Before any route (after the CSRF check): refuse what no field would accept."""
    if request.routing_exception is not None or request.endpoint == "static":
        return
    for where, values in (("query", request.args), ("form", request.form)):
        for name, value in values.items(multi=True):
            if FORBIDDEN.search(name) or FORBIDDEN.search(value):
                raise ApiError(400, "Text must not contain control characters.",
                               {name if not FORBIDDEN.search(name) else where: "Contains a control character."})
    if request.is_json and request.get_data(cache=True).strip():
        read_json()


def init_app(app):
    app.url_map.converters["int"] = IdConverter
    app.before_request(_check_request)


def json_body(allowed=None):
    """The request's JSON object; 415 when not JSON, 400 when not an object or a field is unknown."""
    if not request.is_json:
        raise ApiError(415, "The request body must be JSON (Content-Type: application/json).")
    data = read_json() if request.get_data(cache=True).strip() else None
    if not isinstance(data, dict):
        raise ApiError(400, "The request body must be a JSON object.")
    if allowed is not None:
        unknown = sorted(set(data) - set(allowed))
        if unknown:
            raise ValidationError({k: "Unknown field." for k in unknown}, "The request has unknown fields.")
    return data


def empty_body():
    """Action routes take an empty body or {} (with or without a JSON Content-Type)."""
    raw = request.get_data(cache=True)
    if request.form or request.files:  # a form body was already parsed (and consumed) by CSRF
        raise ApiError(400, "This action takes an empty body or {}.")
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):
        data = None
    if data != {}:
        if isinstance(data, dict):
            raise ValidationError({k: "Unknown field." for k in data}, "This action takes an empty body or {}.")
        raise ApiError(400, "This action takes an empty body or {}.")
    return {}


class Fields:
    """Reads typed fields out of a JSON object or a form, collecting every problem at once.

    With `form=True` values arrive as strings (numbers are parsed, a checkbox is true when sent).
    """

    def __init__(self, data, form=False):
        self.data = data
        self.form = form
        self.errors = {}

    def has(self, name):
        return name in self.data

    def error(self, name, message):
        self.errors.setdefault(name, message)

    def text(self, name, required=False, max_length=200, default=None, multiline=False):
        """A trimmed string; control characters refused (tab and line breaks too unless `multiline`)."""
        value = self.data.get(name, default)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.error(name, "This field is required.")
            return None
        if not isinstance(value, str):
            self.error(name, "Must be a string.")
            return None
        value = value.strip()
        if len(value) > max_length:
            self.error(name, f"Must be at most {max_length} characters.")
            return None
        if FORBIDDEN.search(value) or (not multiline and LINE_BREAKS.search(value)):
            self.error(name, "Must not contain control characters" + ("." if multiline else " or line breaks."))
            return None
        return value

    def integer(self, name, required=False, minimum=None, maximum=None, nullable=False):
        value = self.data.get(name)
        if value is None or (self.form and isinstance(value, str) and not value.strip()):
            if required:
                self.error(name, "This field is required.")
            elif value is None and not nullable and name in self.data and not self.form:
                self.error(name, "Must be an integer.")
            return None
        if self.form and isinstance(value, str):
            value = whole_number(value)
            if value is None:
                self.error(name, "Must be a whole number.")
                return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.error(name, "Must be an integer.")
            return None
        if minimum is not None and value < minimum:
            self.error(name, f"Must be at least {minimum}.")
            return None
        if maximum is not None and value > maximum:
            self.error(name, f"Must be at most {maximum}.")
            return None
        return value

    def decimal(self, name, maximum=Decimal("9999999999.99"), nullable=True):
        """Money: a decimal string with at most two places ("3.20") or an integer, >= 0; never a
        float (a JSON 3.2 is refused: it is not exact). Returns a Decimal or None."""
        value = self.data.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            if not nullable:
                self.error(name, "This field is required.")
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or not _MONEY.fullmatch(value.strip()):
            self.error(name, 'Must be an amount as a string with at most two decimal places, e.g. "3.20".')
            return None
        amount = Decimal(value.strip())
        if amount > maximum:
            self.error(name, f"Must be at most {maximum}.")
            return None
        return amount

    def boolean(self, name):
        if self.form:
            return name in self.data and self.data.get(name) not in ("0", "false", "off")
        value = self.data.get(name)
        if not isinstance(value, bool):
            self.error(name, "Must be true or false.")
            return None
        return value

    def choice(self, name, choices, required=False):
        value = self.data.get(name)
        if value is None or value == "":
            if required:
                self.error(name, "This field is required.")
            return None
        if value not in choices:
            self.error(name, "Must be one of: " + ", ".join(choices) + ".")
            return None
        return value

    def id_list(self, name, max_items=100):
        """A JSON list of ids (whole numbers 1..MAX_ID), without repeats, sorted."""
        value = self.data.get(name)
        if (not isinstance(value, list) or len(value) > max_items
                or not all(isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= MAX_ID for v in value)):
            self.error(name, f"Must be a list of at most {max_items} ids.")
            return None
        return sorted(set(value))

    def string_list(self, name):
        """A JSON list of strings, or a form textarea with one entry per line."""
        value = self.data.get(name)
        if self.form:
            entries = [line.strip() for line in (value or "").splitlines() if line.strip()]
        elif not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.error(name, "Must be a list of strings.")
            return None
        else:
            entries = [v.strip() for v in value if v.strip()]
        if any(FORBIDDEN.search(v) or LINE_BREAKS.search(v) for v in entries):
            self.error(name, "Entries must not contain control characters.")
            return None
        return entries

    def check(self):
        if self.errors:
            raise ValidationError(self.errors)


class QueryArgs:
    """Typed query-string parameters, collecting every problem; `check()` raises a 400."""

    def __init__(self, args):
        self.args = args
        self.errors = {}

    def integer(self, name, default, minimum, maximum):
        raw = self.args.get(name)
        if raw in (None, ""):
            return default
        value = whole_number(raw)
        if value is None:
            self.errors[name] = "Must be a whole number."
            return default
        if not minimum <= value <= maximum:
            self.errors[name] = f"Must be between {minimum} and {maximum}."
        return value

    def flag(self, name):
        return self.args.get(name, "").lower() in ("1", "true", "yes")

    def choice(self, name, choices, default=None):
        value = self.args.get(name) or default
        if value is not None and value not in choices:
            self.errors[name] = "Must be one of: " + ", ".join(choices) + "."
        return value

    def check(self):
        if self.errors:
            raise ValidationError(self.errors, "The query has invalid parameters.")
