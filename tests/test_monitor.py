"""StockMonitorService: the thread, concurrent cycles, and a database that dies and comes back."""
import multiprocessing
import shutil
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from modules import create_app
from modules.dialect import name as dialect_name
from modules.extensions import db
from modules.alerts.models import StockAlert, StockAlertLog
from modules.notifications.models import Notification
from modules.alerts.monitor import StockMonitorService, run_cycle
from tests.support.app import base_config, cluster_for
from tests.support.shops import set_stock_behind_the_apps_back


def count(model):
    return db.session.execute(select(func.count()).select_from(model)).scalar_one()


def make_low_behind_the_apps_back(n_products, shop):
    ids = [shop.add_product(f"P{i}", stock=100)["id"] for i in range(n_products)]
    set_stock_behind_the_apps_back(ids, 1)
    db.session.commit()
    return ids


def wait_for(predicate, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def test_service_thread_scans_and_stops_at_once(app, shop):
    make_low_behind_the_apps_back(3, shop)
    service = StockMonitorService(app, interval=3600, initial_delay=0)
    service.start()
    try:
        assert wait_for(lambda: service.cycles >= 1)
        assert service.running and service.last_created == 3 and service.last_error is None
        assert service.status()["last_run_at"] is not None
    finally:
        started = time.monotonic()
        service.stop()
    # The hour-long wait is cut short by the stop event, not sat out.
    assert time.monotonic() - started < 5
    assert not service.running
    assert not any(t.name == "stock-monitor" and t.is_alive() for t in threading.enumerate())


def test_health_reports_the_monitor(app, client):
    service = StockMonitorService(app, interval=3600, initial_delay=0)
    app.extensions["stock_monitor"] = service
    service.start()
    try:
        assert wait_for(lambda: service.cycles >= 1)
        monitor = client.get("/health").get_json()["monitor"]
        assert monitor["running"] is True and monitor["interval_seconds"] == 3600
        assert monitor["last_run_at"] and monitor["last_duration_ms"] is not None and monitor["last_error"] is None
    finally:
        service.stop()
    assert client.get("/health").get_json()["monitor"]["running"] is False


def test_two_concurrent_cycles_create_nothing_twice(app, shop):
    ids = make_low_behind_the_apps_back(20, shop)
    shop.add_user("staff@example.com", "staff")
    barrier = threading.Barrier(2)
    results, errors = [], []

    def cycle():
        with app.app_context():
            try:
                barrier.wait()
                results.append(run_cycle())
            except Exception as e:  # collected and asserted below
                errors.append(e)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=cycle) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    created = sum(len(r) for r in results if r)
    assert created == len(ids)
    db.session.expire_all()
    assert count(StockAlertLog) == len(ids)
    assert count(Notification) == 2 * len(ids)  # owner and staff, once each
    assert count(StockAlert) == len(ids)


def _cycle_in_process(url, start_at, queue):
    app = create_app(base_config(url))
    with app.app_context():
        time.sleep(max(0, start_at - time.time()))
        new = run_cycle()
        queue.put(None if new is None else len(new))


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_two_processes_on_postgres_create_nothing_twice(app, database_url, shop):
    assert dialect_name() == "postgresql"
    ids = make_low_behind_the_apps_back(30, shop)
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    start_at = time.time() + 3
    procs = [ctx.Process(target=_cycle_in_process, args=(database_url, start_at, queue)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    outcomes = sorted((queue.get(timeout=5) for _ in procs), key=lambda v: -1 if v is None else v)
    assert all(p.exitcode == 0 for p in procs)
    # Either one scanned and the other skipped on the lock, or they ran one after the other.
    assert outcomes in ([None, len(ids)], [0, len(ids)])
    db.session.expire_all()
    assert count(StockAlertLog) == len(ids) and count(Notification) == len(ids)


def _kill_database(app, database_url):
    if database_url.startswith("sqlite"):
        path = Path(database_url.removeprefix("sqlite:///"))
        db.engine.dispose()
        shutil.move(path.parent, path.parent.with_name(path.parent.name + "-away"))
        return lambda: (shutil.move(path.parent.with_name(path.parent.name + "-away"), path.parent))
    cluster, name = cluster_for(database_url)
    cluster.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS false")
    cluster.execute(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'")
    return lambda: cluster.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS true")


def test_a_dead_database_is_logged_and_the_next_cycle_recovers(app, database_url, shop, client):
    make_low_behind_the_apps_back(2, shop)
    service = StockMonitorService(app, interval=0.05, initial_delay=0)
    revive = _kill_database(app, database_url)
    service.start()
    try:
        assert wait_for(lambda: service.errors >= 2)
        assert service.running and service.last_error
        assert client.get("/health").status_code == 503
        assert client.get("/health").get_json()["database"] == "unreachable"
        revive()
        assert wait_for(lambda: service.last_error is None and service.cycles > service.errors)
    finally:
        service.stop()
    db.session.remove()
    assert count(StockAlertLog) == 2
