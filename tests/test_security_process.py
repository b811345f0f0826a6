"""Start-up, shutdown and outages: the secret key made once by processes started together, a
private instance/ and SQLite file, SIGTERM ends idle keep-alive clients within 2 s, a dropped
connection after the commit is not an error answer, and an outage logs a line, not a traceback
per request."""
import logging
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path


from modules import create_app
from modules.extensions import db
from tests.support.app import base_config, cluster_for
from tests.support.postgres import free_port
from tests.support.process import ROOT, read_until, start

# modules/config.py alone, not the package (whose import loads the whole app, ~1 s of CPU per
# process): the twelve are ready long before the instant they all start at.
MAKE_KEY = """
import importlib.util, sys, time
from pathlib import Path
spec = importlib.util.spec_from_file_location("config", "modules/config.py")
config = importlib.util.module_from_spec(spec)
spec.loader.exec_module(config)
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))  # all start at the same instant
print(config._secret_key(Path(sys.argv[1])))
"""


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_secret_key_is_made_once_by_processes_started_together(tmp_path):
    instance = tmp_path / "instance"
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    at = time.time() + 2.0
    procs = [subprocess.Popen([sys.executable, "-c", MAKE_KEY, str(instance), str(at)], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(12)]
    results = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0] * 12, [err for _, err in results if err]
    keys = {out.strip() for out, _ in results}
    assert len(keys) == 1 and len(keys.pop()) == 64
    assert mode(instance / "secret_key") == 0o600
    assert mode(instance) == 0o700
    assert [p.name for p in instance.iterdir()] == ["secret_key"]  # no temporary file left behind


def test_sqlite_file_and_instance_are_private(tmp_path):
    path = tmp_path / "shop.db"
    create_app(base_config(f"sqlite:///{path}"))
    assert mode(path) == 0o600
    path.chmod(0o644)  # an older install's file
    create_app(base_config(f"sqlite:///{path}"))
    assert mode(path) == 0o600


def test_sigterm_ends_idle_keep_alive_connections_within_2_seconds(database_url):
    port = free_port()
    proc = start(database_url, port, SEED_DEMO="0", STOCK_MONITOR_ENABLED="0", DELIVERY_ENABLED="0")
    try:
        read_until(proc, r"serving on")
        idle = socket.create_connection(("127.0.0.1", port), timeout=5)
        idle.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: keep-alive\r\n\r\n")
        assert idle.recv(65536).startswith(b"HTTP/1.1 200")  # answered; the connection stays open, idle
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
        took = time.monotonic() - started
        idle.close()
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert took < 2.0, took


def _drop_connection_after_the_view(app):
    """After the view has committed and answered, the database connection goes away (a server
    restart, a network cut) while the session is still open."""

    def drop(response):
        db.session.connection().connection.dbapi_connection.close()
        return response

    # Straight into the list: the app has served requests, so the decorator would refuse.
    app.after_request_funcs.setdefault(None, []).append(drop)


def test_a_dropped_connection_after_the_commit_is_not_an_error_answer(app, shop, caplog):
    product = shop.add_product("Flour", stock=1)
    _drop_connection_after_the_view(app)
    answers = []

    def change_stock():
        # A thread of its own, as in the server: the request has its own app context, whose
        # teardown (the session's cleanup) runs after the answer is made.
        answers.append(shop.post(f"/api/products/{product['id']}/stock", json={"delta": 5, "reason": "delivery"}))

    thread = threading.Thread(target=change_stock)
    thread.start()
    thread.join(30)
    app.after_request_funcs[None].pop()
    assert len(answers) == 1, "the request raised instead of answering"
    assert answers[0].status_code == 200 and answers[0].get_json()["product"]["stock"] == 6
    assert any("closing the database session" in r.getMessage() for r in caplog.records)
    assert shop.get(f"/api/products/{product['id']}").get_json()["stock"] == 6  # it was committed


def _kill_database(database_url):
    if database_url.startswith("sqlite"):
        path = Path(database_url.removeprefix("sqlite:///"))
        db.engine.dispose()
        away = path.parent.with_name(path.parent.name + "-away")
        shutil.move(path.parent, away)
        return lambda: shutil.move(away, path.parent)
    cluster, name = cluster_for(database_url)
    cluster.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS false")
    cluster.execute(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'")
    return lambda: cluster.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS true")


def test_a_database_outage_logs_one_line_per_kind_not_a_traceback_per_request(app, database_url, shop, caplog):
    db.session.remove()  # the test's own session must not keep a connection through the outage
    revive = _kill_database(database_url)
    caplog.set_level(logging.INFO)
    caplog.clear()
    try:
        statuses = []
        for _ in range(25):
            response = shop.get("/api/products")
            statuses.append(response.status_code)
            assert response.is_json and response.get_json()["error"]
            page = shop.get("/retail/products")
            assert page.status_code == 503 and b"<html" in page.data.lower()
    finally:
        revive()
    assert set(statuses) == {503}
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert 1 <= len(errors) <= 3, [r.getMessage() for r in errors]
    assert all(r.exc_info is None for r in errors)
    db.session.remove()
    db.engine.dispose()
    assert shop.get("/api/products").status_code == 200
