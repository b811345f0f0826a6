"""Fixtures in the manner of flaskr's: `app`, `client`, `runner`, plus shops signed in through
the real API. Every database test runs twice: on SQLite and on a throwaway PostgreSQL cluster.
Databases are built by running the migrations (once per session, then copied per test)."""
import itertools
import os
import shutil

import pytest
from flask import g
from flask_migrate import upgrade

from modules import create_app
from modules.extensions import db
from tests.support.postgres import TemporaryCluster, find_bindir

REQUIRE_POSTGRES = os.environ.get("REQUIRE_POSTGRES") == "1"
_counter = itertools.count()


def base_config(url, **extra):
    config = {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": url,
        "SECRET_KEY": "test-secret-not-for-production",
        "SEED_DEMO": False,
        "STOCK_MONITOR_ENABLED": False,
        "DELIVERY_ENABLED": False,
        "PUBLIC_URL": "http://stockbell.test",
        "MAIL_SUPPRESS_SEND": False,
        "LOGIN_HASH_CONCURRENCY": 4, "SIGNUP_PER_ADDRESS_PER_HOUR": 10_000,  # tests sign in at once, sign up a lot
    }
    config.update(extra)
    return config


def migrate(url):
    app = create_app(base_config(url))
    with app.app_context():
        upgrade()
        db.engine.dispose()


@pytest.fixture(scope="session")
def pg_cluster():
    if not find_bindir():
        if REQUIRE_POSTGRES:
            pytest.fail("REQUIRE_POSTGRES=1 but no PostgreSQL server binaries (initdb) were found")
        pytest.skip("PostgreSQL server binaries not found (set PG_BINDIR); PostgreSQL tests skipped")
    cluster = TemporaryCluster().start()
    cluster.execute("CREATE DATABASE stockbell_template")
    migrate(cluster.url("stockbell_template"))
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    migrate(f"sqlite:///{path}")
    return path


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request, tmp_path):
    """A fresh, migrated database for one test."""
    if request.param == "sqlite":
        path = tmp_path / "stockbell.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    cluster = request.getfixturevalue("pg_cluster")
    name = f"test_{os.getpid()}_{next(_counter)}"
    cluster.execute(f"CREATE DATABASE {name} TEMPLATE stockbell_template")
    _clusters[cluster.url(name)] = (cluster, name)
    return cluster.url(name)


_clusters = {}


def _cluster_for(url):
    """(cluster, database name) of a PostgreSQL test database, to break and mend it."""
    return _clusters[url]


@pytest.fixture
def app_config():
    """Override in a module to change the app's configuration."""
    return {}


def _fresh_g():
    """Requests made while the test holds an app context share its `g`; in production each
    request has its own. Clear it so one client's login or CSRF token never leaks to another."""
    for key in list(g):
        g.pop(key)


@pytest.fixture
def app(database_url, app_config):
    app = create_app(base_config(database_url, **app_config))
    app.before_request_funcs.setdefault(None, []).insert(0, _fresh_g)
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


class ApiClient:
    """A signed-in user speaking JSON, CSRF token attached like a real client would."""

    def __init__(self, app, email=None, password="shop-password-123"):
        self.app = app
        self.http = app.test_client()
        self.email = email
        self.password = password
        self.csrf = None
        self.user = self.client = None

    def _remember(self, response):
        body = response.get_json()
        self.csrf = body["csrf_token"]
        self.user, self.client = body["user"], body["client"]
        return response

    def register(self, shop_name, timezone=None):
        body = {"shop_name": shop_name, "email": self.email, "password": self.password}
        if timezone:
            body["timezone"] = timezone
        response = self.http.post("/api/auth/register", json=body)
        assert response.status_code == 201, response.get_json()
        return self._remember(response)

    def login(self):
        response = self.http.post("/api/auth/login", json={"email": self.email, "password": self.password})
        assert response.status_code == 200, response.get_json()
        return self._remember(response)

    def _headers(self, headers):
        return {"X-CSRFToken": self.csrf or "", **(headers or {})}

    def get(self, url, **kw):
        return self.http.get(url, **kw)

    def post(self, url, json=None, headers=None, **kw):
        if json is not None:
            kw["json"] = json
        return self.http.post(url, headers=self._headers(headers), **kw)

    def patch(self, url, json=None, headers=None, **kw):
        return self.http.patch(url, json=json, headers=self._headers(headers), **kw)

    def delete(self, url, headers=None, **kw):
        return self.http.delete(url, headers=self._headers(headers), **kw)

    # shop-level conveniences
    def add_product(self, name, stock=10, **fields):
        response = self.post("/api/products", json={"name": name, "stock": stock, **fields})
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    def add_user(self, email, role="staff", password="shop-password-123"):
        response = self.post("/api/users", json={"email": email, "password": password, "role": role})
        assert response.status_code == 201, response.get_json()
        other = ApiClient(self.app, email, password)
        other.login()
        return other


@pytest.fixture
def make_shop(app):
    """make_shop("Name") -> an ApiClient signed in as the new shop's owner."""
    created = itertools.count(1)

    def _make(name="Corner Shop", email=None, timezone=None):
        owner = ApiClient(app, email or f"owner{next(created)}-{name.lower().replace(' ', '')}@example.com")
        owner.register(name, timezone)
        return owner

    return _make


@pytest.fixture
def shop(make_shop):
    return make_shop("Corner Shop")


@pytest.fixture
def other_shop(make_shop):
    return make_shop("Rival Shop")
