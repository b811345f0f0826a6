"""Operations seen in the soak: workers write a heartbeat to the database and /health on any
process shows each worker's last beat and the outbox's longest-waiting row (no cross-shop counts
to anonymous callers); the outage log's "(N more like it ...)" is written when its window closes
and a second outage is logged on its own; SIGTERM exits within 2 s even with a worker stuck on a
dead SMTP server."""
import json
import logging
import signal
import socket
import threading
import time
import urllib.request
from datetime import timedelta

import pytest
from sqlalchemy.exc import OperationalError

from modules.alerts.monitor import StockMonitorService
from modules.delivery.models import Delivery
from modules.extensions import db
from modules.outage import FailureLog
from modules.periodic import WorkerHeartbeat
from modules.timeutil import utcnow
from tests.support.postgres import free_port
from tests.support.process import read_until, start

TOKEN = "health-token-for-tests"


@pytest.fixture
def app_config():
    return {"HEALTH_TOKEN": TOKEN}


def beats():
    db.session.rollback()
    return db.session.execute(db.select(WorkerHeartbeat)).scalars().all()


@pytest.mark.parametrize("app_config", [{"WORKER_HEARTBEAT_SECONDS": 0.2}])
def test_a_running_worker_beats_into_the_database(app):
    monitor = StockMonitorService(app, interval=3600, initial_delay=3600)  # no cycle: the beats alone
    monitor.start()
    try:
        deadline = time.monotonic() + 10
        while not beats() and time.monotonic() < deadline:
            time.sleep(0.05)
        first = beats()[0].last_beat_at
        while beats()[0].last_beat_at == first and time.monotonic() < deadline:
            time.sleep(0.05)
        assert beats()[0].last_beat_at > first  # it goes on beating while waiting for its next cycle
    finally:
        monitor.stop(5)
    assert [b.kind for b in beats()] == ["stock-monitor"]


def test_health_on_a_web_process_shows_each_workers_last_beat(app, client):
    """The web process runs no worker itself (a split deployment): the database tells."""
    now = utcnow()
    db.session.add_all([
        WorkerHeartbeat(id="worker-1:41:stock-monitor", kind="stock-monitor", host="worker-1", pid=41,
                        started_at=now - timedelta(hours=1), last_beat_at=now - timedelta(seconds=5)),
        WorkerHeartbeat(id="worker-1:41:delivery-dispatcher", kind="delivery-dispatcher", host="worker-1", pid=41,
                        started_at=now - timedelta(hours=1), last_beat_at=now - timedelta(minutes=10)),
    ])
    db.session.commit()
    body = client.get("/health").get_json()
    assert body["monitor"]["running"] is False  # not in this process
    workers = {w["kind"]: w for w in body["workers"]}
    assert workers["stock-monitor"]["alive"] is True and workers["stock-monitor"]["last_beat_at"]
    assert workers["delivery-dispatcher"]["alive"] is False  # killed: its beat has stopped
    assert workers["delivery-dispatcher"]["seconds_since_beat"] >= 599
    assert "host" not in workers["stock-monitor"] and "pid" not in workers["stock-monitor"]
    trusted = client.get("/health", headers={"Authorization": f"Bearer {TOKEN}"}).get_json()
    assert {w["host"] for w in trusted["workers"]} == {"worker-1"}


def _delivery(client_id, n, **values):
    now = utcnow()
    return Delivery(client_id=client_id, dedupe_key=f"test:{n}", channel="email", recipient=f"r{n}@example.com",
                    subject="s", body="b", **{"status": "pending", "next_attempt_at": now, "created_at": now,
                                              **values})


def test_health_shows_the_outboxs_longest_waiting_row_to_anyone_but_no_counts(app, client, shop):
    body = client.get("/health").get_json()
    assert body["outbox"] == {"oldest_due_at": None, "waiting_seconds": None}
    now = utcnow()
    db.session.add_all([
        _delivery(shop.client["id"], 1, next_attempt_at=now - timedelta(minutes=2)),
        _delivery(shop.client["id"], 2, next_attempt_at=now + timedelta(hours=1)),  # not due yet
        # Claimed by a worker that was killed: due again since its lease ran out, 4 minutes ago.
        _delivery(shop.client["id"], 3, status="sending", next_attempt_at=now - timedelta(minutes=9),
                  claimed_until=now - timedelta(minutes=4)),
    ])
    db.session.commit()
    body = client.get("/health").get_json()
    assert 235 <= body["outbox"]["waiting_seconds"] <= 300
    assert "deliveries" not in body  # counts across shops: the token holder's only
    trusted = client.get("/health", headers={"Authorization": f"Bearer {TOKEN}"}).get_json()
    assert trusted["deliveries"]["due"] == 2


def _outage():
    return OperationalError("SELECT 1", {}, Exception("connection refused"))


def test_the_outage_logs_count_is_written_when_its_window_closes(caplog):
    caplog.set_level(logging.ERROR, logger="stockbell.outage")
    failures = FailureLog(interval=1.0)
    assert failures.failed("GET /api/products", _outage()) is True
    for _ in range(3):
        assert failures.failed("GET /api/products", _outage()) is False
    assert len(caplog.records) == 1  # the first, at once
    time.sleep(1.3)  # the window closes with no further failure: its count is written now
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2 and lines[1].endswith("(3 more like it in the last 1 s)")
    # A second outage later is logged at once, on its own, and its window counts only its own.
    assert failures.failed("GET /api/alerts", _outage()) is True
    assert failures.failed("GET /api/alerts", _outage()) is False
    time.sleep(1.3)
    lines = [r.getMessage() for r in caplog.records]
    assert lines[2] == "GET /api/alerts: database unreachable (Exception)"
    assert lines[3].endswith("(1 more like it in the last 1 s)") and len(lines) == 4


def test_a_single_failure_writes_no_count(caplog):
    caplog.set_level(logging.ERROR, logger="stockbell.outage")
    failures = FailureLog(interval=0.3)
    failures.failed("x", _outage())
    time.sleep(0.6)
    assert len(caplog.records) == 1


class DeadSmtp:
    """A mail server that accepts connections and never says a word (a hung relay)."""

    def __init__(self):
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.accepted = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                self.accepted.append(self.listener.accept()[0])
            except OSError:
                return

    def close(self):
        self.listener.close()
        for connection in self.accepted:
            connection.close()


def _call(base, path, body=None, cookie=None, csrf=None):
    request = urllib.request.Request(base + path, data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json", "Cookie": cookie or "",
                                              "X-CSRFToken": csrf or ""})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, response.headers.get_all("Set-Cookie") or [], response.read()


def test_sigterm_exits_within_2_seconds_with_a_worker_stuck_on_a_dead_smtp_server(database_url):
    smtp = DeadSmtp()
    port = free_port()
    proc = start(database_url, port, SEED_DEMO="0", STOCK_MONITOR_ENABLED="0", DELIVERY_ENABLED="1",
                 DELIVERY_POLL_SECONDS="0.2", MAIL_SERVER="127.0.0.1", MAIL_PORT=str(smtp.port), MAIL_TIMEOUT="30",
                 DELIVERY_COALESCE_SECONDS="0")
    try:
        read_until(proc, r"serving on")
        base = f"http://127.0.0.1:{port}"
        _, cookies, body = _call(base, "/api/auth/register", {"shop_name": "Hung Mail", "email": "o@example.com",
                                                              "password": "shop-password-123"})
        cookie = next(c.split(";", 1)[0] for c in cookies if c.startswith("session="))
        csrf = json.loads(body)["csrf_token"]
        assert _call(base, "/api/notifications/settings", {"email_enabled": True,
                                                           "email_recipients": ["ops@example.com"]},
                     cookie, csrf)[0] == 200
        assert _call(base, "/api/notifications/test", {"channel": "email"}, cookie, csrf)[0] == 202
        deadline = time.monotonic() + 20
        while not smtp.accepted and time.monotonic() < deadline:
            time.sleep(0.05)
        assert smtp.accepted, "the dispatcher never reached the mail server"
        time.sleep(0.3)  # it is now waiting for a greeting that never comes
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
        took = time.monotonic() - started
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)
        smtp.close()
    assert proc.returncode == 0
    print(f"SIGTERM took {took:.2f} s")
    assert took < 2.0, took
