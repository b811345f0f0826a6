"""/health: the status and the workers' state for anyone, errors as a kind of failure (no host,
port or credential), and counts across shops only for the holder of HEALTH_TOKEN."""
import pytest
from sqlalchemy import create_engine
from sqlalchemy.exc import OperationalError

from modules.alerts.monitor import StockMonitorService
from modules.outage import failure_kind

TOKEN = "health-token-for-tests"


@pytest.fixture
def app_config():
    return {"HEALTH_TOKEN": TOKEN}


def test_health_shows_no_cross_shop_counts_to_anonymous_callers(client, shop):
    body = client.get("/health").get_json()
    assert body["status"] == "healthy" and body["database"] == "connected"
    assert set(body["monitor"]) == {"running", "interval_seconds", "last_run_at", "last_duration_ms", "last_error"}
    assert "deliveries" not in body
    assert "sent" not in body["dispatcher"]


def test_health_shows_counts_with_the_token_only(client, shop):
    wrong = client.get("/health", headers={"Authorization": "Bearer not-the-token"}).get_json()
    assert "deliveries" not in wrong
    right = client.get("/health", headers={"Authorization": f"Bearer {TOKEN}"}).get_json()
    assert right["deliveries"] == {"due": 0, "retrying": 0, "dead": 0}


@pytest.mark.parametrize("app_config", [{}])
def test_health_without_a_configured_token_shows_no_counts(client):
    assert "deliveries" not in client.get("/health", headers={"Authorization": "Bearer "}).get_json()


def test_health_last_error_names_the_kind_of_failure_not_the_host(app, client):
    secret_url = "postgresql+psycopg://stockbell:hunter2-secret@10.99.88.77:6543/shop"
    engine = create_engine(secret_url, connect_args={"connect_timeout": 1})
    try:
        with engine.connect():
            pass
    except OperationalError as e:
        error = e
    assert "10.99.88.77" in str(error)  # what used to be shown
    kind = failure_kind(error)
    assert kind.startswith("database unreachable")
    for leak in ("10.99.88.77", "6543", "hunter2", "stockbell"):
        assert leak not in kind

    monitor = StockMonitorService(app, interval=60, initial_delay=0)

    def broken_cycle(**kwargs):
        raise error

    monitor.cycle = broken_cycle
    monitor.run_once()
    app.extensions["stock_monitor"] = monitor
    body = client.get("/health").get_json()
    assert body["monitor"]["last_error"] == kind
    assert "10.99.88.77" not in client.get("/health").get_data(as_text=True)
