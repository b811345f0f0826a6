"""Migration 0015 on a database that already holds sales (SQLite and PostgreSQL): the daily rollup
is backfilled on each shop's local date, across a DST change, a local midnight and a half-hour zone;
only sales taking stock away count; the downgrade drops it."""
import itertools
import os

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from modules import create_app
from modules.extensions import db
from tests.support.app import base_config

_names = itertools.count()
T = "'2026-10-01 08:00:00'"

# (shop, product, delta, reason, created_at UTC): New York leaves summer time at 06:00 UTC on
# 1 November 2026 (02:00 EDT becomes 01:00 EST); Kolkata is UTC+05:30 all year.
MOVEMENTS = [
    (1, 1, -1, "sale", "2026-11-01 03:59:59"),  # 23:59:59 EDT on 31 October
    (1, 1, -2, "sale", "2026-11-01 04:00:00"),  # 00:00 EDT on 1 November
    (1, 1, -4, "sale", "2026-11-01 05:30:00"),  # 01:30 EDT, the first of the two 01:30s
    (1, 1, -8, "sale", "2026-11-01 06:30:00"),  # 01:30 EST, the second
    (1, 1, -16, "sale", "2026-11-02 04:59:00"),  # 23:59 EST on 1 November (an hour later than the day before)
    (1, 1, -32, "sale", "2026-11-02 05:00:00"),  # 00:00 EST on 2 November
    (1, 1, 64, "sale", "2026-11-01 12:00:00"),  # a correction: not counted
    (1, 1, -128, "damage", "2026-11-01 12:00:00"),  # not a sale
    (1, 2, -3, "sale", "2026-11-01 12:00:00"),  # another product, same day
    (2, 3, -1, "sale", "2026-11-01 18:29:00"),  # 23:59 IST on 1 November
    (2, 3, -2, "sale", "2026-11-01 18:30:00"),  # 00:00 IST on 2 November
    (2, 3, -4, "sale", "2026-11-01 18:44:00"),  # 00:14 IST on 2 November
]


@pytest.fixture(params=["sqlite", "postgres"])
def old_database(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'old.db'}"
    cluster = request.getfixturevalue("pg_cluster")
    name = f"rollup_{os.getpid()}_{next(_names)}"
    cluster.execute(f"CREATE DATABASE {name}")
    return cluster.url(name)


def test_sales_are_rolled_up_on_each_shops_local_day_and_dropped_on_downgrade(old_database):
    app = create_app(base_config(old_database))
    with app.app_context():
        upgrade(revision="0014p")
        for statement in (
            "INSERT INTO clients (id, name, timezone, allow_negative_stock, created_at) VALUES "
            f"(1, 'A', 'America/New_York', false, {T}), (2, 'B', 'Asia/Kolkata', false, {T})",
            "INSERT INTO locations (id, client_id, name, kind, is_default, active, created_at) VALUES "
            f"(10, 1, 'Main', 'store', true, true, {T}), (20, 2, 'Main', 'store', true, true, {T})",
            "INSERT INTO products (id, client_id, name, stock, active, pack_size, created_at, updated_at) VALUES "
            f"(1, 1, 'Milk', 2, true, 1, {T}, {T}), (2, 1, 'Tea', 40, true, 1, {T}, {T}),"
            f" (3, 2, 'Chai', 7, true, 1, {T}, {T})",
        ):
            db.session.execute(text(statement))
        for client_id, product_id, delta, reason, at in MOVEMENTS:
            db.session.execute(text(
                "INSERT INTO stock_movements (client_id, product_id, location_id, delta, stock_after, reason, source,"
                " created_at) VALUES (:c, :p, :l, :d, 0, :r, 'app', :at)"),
                {"c": client_id, "p": product_id, "l": client_id * 10, "d": delta, "r": reason, "at": at})
        db.session.commit()
        db.session.remove()
        upgrade()
        rows = db.session.execute(text(
            "SELECT client_id, product_id, location_id, sale_date, units FROM sales_daily "
            "ORDER BY client_id, product_id, sale_date")).all()
        assert [(c, p, loc, str(day), units) for c, p, loc, day, units in rows] == [
            (1, 1, 10, "2026-10-31", 1),
            (1, 1, 10, "2026-11-01", 2 + 4 + 8 + 16),
            (1, 1, 10, "2026-11-02", 32),
            (1, 2, 10, "2026-11-01", 3),
            (2, 3, 20, "2026-11-01", 1),
            (2, 3, 20, "2026-11-02", 2 + 4),
        ]
        db.session.commit()
        db.session.remove()
        downgrade(revision="0014p")
        assert "sales_daily" not in inspect(db.engine).get_table_names()
        db.session.remove()
        db.engine.dispose()
