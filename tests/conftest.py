"""The suite's fixtures come from the plugins below (tests/support/*), never from a test module:
the app on SQLite and PostgreSQL, shops, the delivery doubles, the browser. This file marks each
test `postgres` or `browser` for `-m` (README: the quick command), and picks the fuzz's seed."""
import os
import random

import pytest

pytest.register_assert_rewrite("tests.support")

pytest_plugins = [
    "tests.support.app",
    "tests.support.shops",
    "tests.support.deliveries",
    "tests.support.browser",
]


def pytest_collection_modifyitems(items):
    for item in items:
        params = item.callspec.params.values() if hasattr(item, "callspec") else ()
        if "pg_cluster" in item.fixturenames or any(value == "postgres" for value in params):
            item.add_marker(pytest.mark.postgres)
        if "browser" in item.fixturenames:
            item.add_marker(pytest.mark.browser)


def pytest_configure(config):
    # tests/test_fuzz.py's budget and seed, chosen once per run before xdist starts its workers
    # (they inherit the environment): a small budget, and new inputs every run.
    os.environ.setdefault("FUZZ_EXAMPLES", "30")
    os.environ.setdefault("FUZZ_SEED", str(random.SystemRandom().randrange(2**32)))


def pytest_report_header(config):
    return (f"fuzz: FUZZ_SEED={os.environ['FUZZ_SEED']} FUZZ_EXAMPLES={os.environ['FUZZ_EXAMPLES']} "
            "(the same two variables replay this run's fuzz)")
