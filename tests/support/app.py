"""The app on a fresh database, in the manner of flaskr's fixtures: `app`, `client`, `runner`.
Every database test runs twice: on SQLite and on a throwaway PostgreSQL cluster. Databases are
built by running the migrations (once per session, per xdist worker), then copied per test.

Loaded as a plugin by tests/conftest.py (`pytest_plugins`); `base_config`, `cluster_for` and
`statements_of` (the SQL a call sends) are plain helpers a test may import."""
import itertools
import logging
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from flask import g
from flask_migrate import upgrade
from sqlalchemy import event

from modules import create_app
from modules.extensions import db
from tests.support.postgres import TemporaryCluster, find_bindir

REQUIRE_POSTGRES = os.environ.get("REQUIRE_POSTGRES") == "1"
# Test databases live in memory when the machine has a tmpfs: a database per test on a busy disk
# cost most of a PostgreSQL test's time (and SQLite's every commit waits for an fsync).
FAST_TMP = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
log = logging.getLogger(__name__)
_counter = itertools.count()
_clusters = {}  # a test database's URL -> (its cluster, its name)


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
        # One round of PBKDF2 instead of scrypt: a test shop's password costs microseconds, not ~50 ms.
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1",
        # Every test client comes from one address; tests about the sign-up limit set their own.
        "SIGNUP_PER_ADDRESS_PER_HOUR": 1000000,
        "LOGIN_HASH_CONCURRENCY": 4,  # tests sign in at once
    }
    config.update(extra)
    return config


def migrate(url):
    app = create_app(base_config(url))
    with app.app_context():
        upgrade()
        db.engine.dispose()


def statements_of(app, call):
    statements = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        call()
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    return statements


def cluster_for(url):
    """(cluster, database name) of a PostgreSQL test database, to break and mend it."""
    return _clusters[url]


@pytest.fixture(scope="session")
def pg_cluster():
    """This process's own cluster (each xdist worker starts one, on a free port)."""
    if not find_bindir():
        if REQUIRE_POSTGRES:
            pytest.fail("REQUIRE_POSTGRES=1 but no PostgreSQL server binaries (initdb) were found")
        pytest.skip("PostgreSQL server binaries not found (set PG_BINDIR); PostgreSQL tests skipped")
    cluster = TemporaryCluster(parent=FAST_TMP, options="-c max_wal_size=256MB").start()
    try:
        cluster.execute("CREATE DATABASE stockbell_template")
        migrate(cluster.url("stockbell_template"))
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    migrate(f"sqlite:///{path}")
    return path


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request, tmp_path):
    """A fresh, migrated database for one test, removed after it."""
    if request.param == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix="stockbell-sqlite-", dir=FAST_TMP or tmp_path))
        path = folder / "stockbell.db"  # alone in its folder: an outage test moves the folder away
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        shutil.rmtree(folder, ignore_errors=True)
        shutil.rmtree(folder.with_name(folder.name + "-away"), ignore_errors=True)
        return
    cluster = request.getfixturevalue("pg_cluster")
    name = f"test_{os.getpid()}_{next(_counter)}"
    cluster.execute(f"CREATE DATABASE {name} TEMPLATE stockbell_template")
    url = cluster.url(name)
    _clusters[url] = (cluster, name)
    yield url
    del _clusters[url]
    try:  # FORCE: a process or a pool the test left behind must not keep the database
        cluster.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    except Exception:
        log.warning("could not drop the test database %s", name, exc_info=True)


_empty_names = itertools.count()


@pytest.fixture(params=["sqlite", "postgres"])
def empty_database(request, tmp_path):
    """The URL of an empty database (SQLite file or a new database in the session's cluster), for
    the migration tests, which bring it up and down themselves."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'old.db'}"
    cluster = request.getfixturevalue("pg_cluster")
    name = f"migrate_{os.getpid()}_{next(_empty_names)}"
    cluster.execute(f"CREATE DATABASE {name}")
    return cluster.url(name)


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
