"""Slack, Telegram and a signed webhook, each against a local HTTP double; shop-given URLs refuse
this server's own network unless WEBHOOK_ALLOW_PRIVATE=1."""
import hashlib
import hmac

import pytest

from tests.support.deliveries import configure, deliveries, delivery_config, dispatcher, later, make_low
from tests.support.http_double import HttpDouble

BOT_TOKEN = "123456:test-bot-token"


@pytest.fixture
def receiver():
    double = HttpDouble().start()
    yield double
    double.stop()


@pytest.fixture
def app_config(smtp_server, twilio, receiver):
    return delivery_config(smtp_server, twilio, WEBHOOK_ALLOW_PRIVATE=True, TELEGRAM_BOT_TOKEN=BOT_TOKEN,
                           TELEGRAM_API_BASE=receiver.url + "/telegram")


def test_slack_gets_the_alert_as_text(app, shop, receiver):
    configure(shop, slack_enabled=True, slack_webhook_url=receiver.url + "/services/T0/B0/xyz")
    product = make_low(shop, "Oat Milk", stock=10, delta=-10)["product"]
    assert dispatcher(app).run_once()["sent"] == 1
    [post] = receiver.posts
    assert post.path == "/services/T0/B0/xyz" and post.headers["Content-Type"] == "application/json"
    text = post.json()["text"]
    assert "Out of Stock: Oat Milk (Uncategorized)" in text and "Corner Shop" in text
    assert f"http://stockbell.test/retail/products/{product['id']}/edit" in text
    assert deliveries(shop)[0]["status"] == "sent"


def test_telegram_sends_through_the_bot_api_to_each_chat(app, shop, receiver):
    receiver.default = (200, lambda body: {"ok": True, "result": {"message_id": 77}})
    configure(shop, telegram_enabled=True, telegram_chat_ids=["-1001234567890", "@cornershop"])
    make_low(shop, "Oat Milk")
    assert dispatcher(app).run_once()["sent"] == 2
    assert {p.path for p in receiver.posts} == {f"/telegram/bot{BOT_TOKEN}/sendMessage"}
    chats = sorted(p.json()["chat_id"] for p in receiver.posts)
    assert chats == ["-1001234567890", "@cornershop"]
    assert all("Low Stock Alert: Oat Milk - Only 2 remaining" in p.json()["text"] for p in receiver.posts)


def test_telegram_refusing_a_chat_is_permanent_and_names_the_reason(app, shop, receiver):
    receiver.default = (400, {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"})
    configure(shop, telegram_enabled=True, telegram_chat_ids=["-100999"])
    make_low(shop, "Oat Milk")
    assert dispatcher(app).run_once()["dead"] == 1
    assert deliveries(shop)[0]["last_error"] == "Telegram refused the message: Bad Request: chat not found"


def test_the_webhook_is_signed_and_carries_the_contract_fields(app, shop, receiver):
    saved = configure(shop, webhook_enabled=True, webhook_url=receiver.url + "/hooks/stock")
    secret = saved["webhook_secret"]
    assert len(secret) == 64
    again = configure(shop, low_stock_threshold=5)
    assert "webhook_secret" not in again  # shown once
    product = make_low(shop, "Oat Milk", category="Dairy", sku="OAT-1")["product"]
    assert dispatcher(app).run_once()["sent"] == 1
    [post] = receiver.posts
    timestamp = post.headers["X-Stockbell-Timestamp"]
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + post.body, hashlib.sha256).hexdigest()
    assert post.headers["X-Stockbell-Signature"] == f"sha256={expected}"
    event = post.json()
    # API.md, "Locations": webhook bodies gain the alert's location in every shop (one location too).
    assert set(event) == {"id", "kind", "shop", "product", "message", "location", "created_at"}
    assert event["location"]["name"] == "Main"
    assert event["kind"] == "low" and event["shop"] == {"id": shop.client["id"], "name": "Corner Shop"}
    assert event["product"] == {"id": product["id"], "name": "Oat Milk", "sku": "OAT-1", "stock": 2, "threshold": 5,
                                "category": "Dairy"}
    assert event["message"] == "Low Stock Alert: Oat Milk - Only 2 remaining (Dairy)"


@pytest.mark.parametrize("status, outcome", [(500, "failed"), (503, "failed"), (429, "failed"), (410, "dead"),
                                             (400, "dead")])
def test_the_webhook_retries_a_5xx_and_gives_up_on_another_4xx(app, shop, receiver, status, outcome):
    receiver.default = (status, b"no")
    configure(shop, webhook_enabled=True, webhook_url=receiver.url + "/hook")
    make_low(shop, "Oat Milk")
    assert dispatcher(app).run_once()[outcome] == 1
    assert deliveries(shop)[0]["last_error"] == f"The Webhook server answered HTTP {status}."


def test_a_burst_of_alerts_still_gives_the_webhook_one_event_each(app, shop, receiver):
    app.config["DELIVERY_COALESCE_SECONDS"] = 60
    configure(shop, webhook_enabled=True, webhook_url=receiver.url + "/hook")
    for name in ("Apples", "Bananas"):
        make_low(shop, name)
    assert dispatcher(app).run_once(now=later(61))["sent"] == 2
    assert sorted(p.json()["product"]["name"] for p in receiver.posts) == ["Apples", "Bananas"]


@pytest.mark.parametrize("url", [
    "https://127.0.0.1/hook", "https://localhost/hook", "https://10.0.0.5/hook", "https://192.168.1.20/hook",
    "https://169.254.169.254/latest/meta-data", "https://[::1]/hook", "https://[::ffff:127.0.0.1]/hook",
    "http://hooks.example.com/hook", "ftp://hooks.example.com/hook", "https://user:pw@hooks.example.com/x",
    "not a url",
])
@pytest.mark.parametrize("field", ["webhook_url", "slack_webhook_url"])
def test_urls_into_this_servers_network_are_refused(app, shop, url, field):
    app.config["WEBHOOK_ALLOW_PRIVATE"] = False
    channel = field.split("_")[0]
    response = shop.post("/api/notifications/settings", json={f"{channel}_enabled": True, field: url})
    assert response.status_code == 400, url
    assert field in response.get_json()["details"]
    assert shop.get("/api/notifications/settings").get_json()[field] is None


def test_a_public_https_url_is_accepted_without_the_private_switch(app, shop):
    app.config["WEBHOOK_ALLOW_PRIVATE"] = False
    saved = configure(shop, webhook_enabled=True, webhook_url="https://93.184.216.34/stockbell")
    assert saved["webhook_url"] == "https://93.184.216.34/stockbell" and saved["webhook_enabled"] is True


def test_a_saved_url_that_now_points_inside_is_refused_when_sending(app, shop, receiver):
    configure(shop, webhook_enabled=True, webhook_url=receiver.url + "/hook")
    app.config["WEBHOOK_ALLOW_PRIVATE"] = False  # the switch went off after the URL was saved
    make_low(shop, "Oat Milk")
    assert dispatcher(app).run_once()["dead"] == 1
    assert receiver.posts == []
