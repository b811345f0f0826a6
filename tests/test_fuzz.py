"""Random JSON bodies, forms and path segments at every route of the app, signed in as an owner
with a CSRF token, on SQLite and PostgreSQL: never a 500, and a 4xx changes no row.

Each run tries new inputs: a small budget per route and database (FUZZ_EXAMPLES, 30), drawn from
a seed chosen per run and shown in pytest's header (FUZZ_SEED=<it> replays the run), and any
failure is kept in Hypothesis's example database (.hypothesis/) and tried first next time.
A long search: `FUZZ_EXAMPLES=1000 python -m pytest -n 2 tests/test_fuzz.py`."""
import os
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis.database import DirectoryBasedExampleDatabase
from hypothesis import strategies as st
from sqlalchemy import Boolean, DateTime, Integer, String, Text, case, func, select

from modules.extensions import db

FIELDS = ["name", "sku", "category", "stock", "delta", "quantity", "reason", "low_stock_threshold", "active",
          "days", "until", "forever", "email", "password", "role", "current_password", "new_password",
          "shop_name", "timezone", "channel", "remember", "low_stock_enabled", "email_recipients",
          "sms_numbers", "delivery_mode", "digest_time", "forecast_days", "q", "next", "back", "csrf_token"]
EDGE_INTS = [0, -1, 1, 2**31 - 1, 2**31, 2**63, -(2**63) - 1, 10**9, 10**9 + 1, 10**30]
NASTY_TEXT = ["", " ", "\x00", "a\x00b", "\ud800", "\n", "\t", "é", "🛒", "' OR 1=1 --", "%00", "../..",
              "<script>", "9" * 400, "sale", "delivery", "owner", "staff", "manager", "email", "UTC"]

texts = st.one_of(st.sampled_from(NASTY_TEXT), st.text(max_size=30))
scalars = st.one_of(st.none(), st.booleans(), st.sampled_from(EDGE_INTS), st.integers(),
                    st.floats(allow_nan=True, allow_infinity=True), texts)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
                      max_leaves=6)
json_objects = st.dictionaries(st.one_of(st.sampled_from(FIELDS), texts), values, max_size=5)
bodies = st.one_of(
    json_objects.map(lambda d: ("json", d)),
    values.map(lambda v: ("json", v)),
    st.binary(max_size=60).map(lambda b: ("raw", b)),
    st.sampled_from([b"", b"{}", b"[" * 2000, b'{"a": "\\ud800"}', b"\xff\xfe", b"null"]).map(lambda b: ("raw", b)),
    st.dictionaries(st.sampled_from(FIELDS), texts, max_size=5).map(lambda d: ("form", d)),
)
segments = st.one_of(st.sampled_from(EDGE_INTS).map(str), st.integers(min_value=-5, max_value=2**70).map(str),
                     st.sampled_from(["1", "2", "0", "%00", "-1", "1e3", "١", "../x", " 1", "abc"]), st.text(max_size=12))

EXAMPLES = int(os.environ["FUZZ_EXAMPLES"])  # both set once per run by tests/conftest.py,
SEED = int(os.environ["FUZZ_SEED"])  # for every xdist worker alike
EXAMPLE_DATABASE = DirectoryBasedExampleDatabase(Path(__file__).resolve().parent.parent / ".hypothesis" / "examples")
SESSION_ENDERS = {"auth.api_logout", "auth.logout", "auth.api_logout_everywhere", "auth.api_change_password"}


def routes():
    from modules import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "x", "SEED_DEMO": False})
    out = []
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            out.append(pytest.param(rule.rule, method, rule.endpoint, id=f"{method} {rule.rule}"))
    return out


def _table_fingerprint():
    """One SELECT of every table's count and a sum (or max) of each column: any change of a row shows."""
    parts = []
    for table in db.metadata.sorted_tables:
        if table.name == "login_attempts":  # a failed sign-in is meant to be counted
            continue
        parts.append(select(func.count()).select_from(table).scalar_subquery())
        for column in table.columns:
            if isinstance(column.type, Boolean):
                expr = func.sum(case((column.is_(True), 1), else_=0))
            elif isinstance(column.type, Integer):
                expr = func.sum(column)
            elif isinstance(column.type, (String, Text)):
                expr = func.sum(func.length(column))
            elif isinstance(column.type, DateTime):
                expr = func.max(column)
            else:
                continue
            parts.append(select(expr).select_from(table).scalar_subquery())
    return select(*parts)


_FINGERPRINTS = {}  # dialect name -> the fingerprint's SQL, built and compiled once


def fingerprint():
    """The tables' fingerprint now. Its statement (a few hundred subqueries) is rendered to SQL
    once per database kind and sent as it is: building and caching it per example cost more
    than the request under test."""
    engine = db.session.get_bind()
    sql = _FINGERPRINTS.get(engine.dialect.name)
    if sql is None:
        sql = _FINGERPRINTS[engine.dialect.name] = str(
            _table_fingerprint().compile(engine, compile_kwargs={"literal_binds": True}))
    row = db.session.connection().exec_driver_sql(sql).one()
    db.session.rollback()
    return tuple(str(v) for v in row)


def wire(text):
    """Text as a client puts it on the wire: UTF-8, percent-encoded (a lone surrogate as its bytes)."""
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


def fill_path(rule, draw, known_ids):
    """The rule with each <converter:name> replaced by a drawn segment (often an id that exists)."""
    import re

    def one(match):
        return wire(draw(st.one_of(st.sampled_from(known_ids), segments)))

    return re.sub(r"<[^>]+>", one, rule)


@pytest.fixture
def fuzz_shop(shop, other_shop):
    """An owner's shop with a product, a category, an alert and a notification; the rival's rows
    give ids that exist but are not ours."""
    shop.add_product("Milk", stock=1, category="Dairy")
    other_shop.add_product("Rival tea", stock=0)
    shop.add_user("staff@example.com", "staff")
    shop.fingerprint = None  # the tables' fingerprint while no request has changed them (see below)
    return shop


@pytest.mark.parametrize("rule, method, endpoint", routes())
@settings(max_examples=EXAMPLES, deadline=None, database=EXAMPLE_DATABASE, print_blob=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@seed(SEED)
@given(data=st.data())
def test_fuzz_no_route_answers_500_and_4xx_changes_nothing(app, fuzz_shop, rule, method, endpoint, data):
    shop = fuzz_shop
    known_ids = ["1", "2", "3", str(shop.user["id"])]
    path = fill_path(rule, data.draw, known_ids)
    if "?" not in path and data.draw(st.booleans()):
        query = data.draw(st.dictionaries(st.sampled_from(["q", "page", "per_page", "limit", "before_id", "stock",
                                                            "status", "unread", "category_id", "next"]),
                                          st.one_of(segments, texts), max_size=3))
        path = path + "?" + "&".join(f"{k}={wire(v)}" for k, v in query.items())
    kind, body = data.draw(bodies)
    # Only a request that succeeded can have changed a row: keep the last fingerprint until then.
    before, shop.fingerprint = shop.fingerprint or fingerprint(), None
    kwargs = {"headers": {"X-CSRFToken": shop.csrf}}
    if method != "GET":
        if kind == "json":
            kwargs["json"] = body
        elif kind == "form":
            form = {k: v.encode("utf-8", "surrogatepass") for k, v in {**body, "csrf_token": shop.csrf}.items()}
            kwargs.update(data=urlencode(form), content_type="application/x-www-form-urlencoded")
        else:
            kwargs.update(data=body, content_type="application/json")
    response = shop.http.open(path, method=method, **kwargs)
    assert response.status_code != 500 and response.status_code < 500 or response.status_code == 503, \
        (method, path, kind, body, response.get_data(as_text=True)[:300])
    after = fingerprint()
    if 400 <= response.status_code < 500:
        assert after == before, (method, path, kind, body, response.status_code)
    shop.fingerprint = after
    if endpoint in SESSION_ENDERS and response.status_code < 400:
        shop.login()
        shop.fingerprint = None  # a sign-in writes its session's row: fingerprint again
