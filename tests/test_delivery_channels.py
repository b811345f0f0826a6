"""The channels at their edges: a hung SMTP server times out, WhatsApp templates, and the Twilio
SDK pointed at another base URL."""
import json
import socket
import threading

import pytest

from tests.support.deliveries import configure, deliveries, delivery_config, dispatcher, make_low

WHATSAPP = "+447911123456"


@pytest.fixture
def hung_mail_server():
    """Accepts TCP connections (the kernel's backlog) and never says a word."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield listener.getsockname()[1]


@pytest.fixture
def app_config(smtp_server, twilio, hung_mail_server):
    return delivery_config(smtp_server, twilio, MAIL_PORT=hung_mail_server, MAIL_TIMEOUT=0.5)


def test_a_hung_mail_server_times_out_instead_of_freezing_the_dispatcher(app, shop):
    configure(shop, email_enabled=True, email_recipients=["owner@cornershop.example"])
    make_low(shop, "Oat Milk")
    worker, outcome = dispatcher(app), []
    sender = threading.Thread(target=lambda: outcome.append(worker.run_once()), daemon=True)
    sender.start()
    sender.join(10)
    assert not sender.is_alive(), "the dispatcher hung on a silent SMTP server"
    assert outcome[0]["failed"] == 1, worker.last_error
    [failed] = deliveries(shop)
    assert "timed out" in failed["last_error"]


def test_whatsapp_uses_the_approved_template_when_configured(app, shop, twilio):
    app.config["TWILIO_WHATSAPP_CONTENT_SID"] = "HX" + "1" * 32
    configure(shop, whatsapp_enabled=True, whatsapp_numbers=[WHATSAPP])
    make_low(shop, "Oat Milk", stock=10, delta=-7)
    assert dispatcher(app).run_once()["sent"] == 1
    [form] = twilio.messages()
    assert form["ContentSid"] == "HX" + "1" * 32 and "Body" not in form
    assert json.loads(form["ContentVariables"]) == {"1": "Oat Milk", "2": "3", "3": "Corner Shop"}
    assert form["To"] == f"whatsapp:{WHATSAPP}"


def test_twilio_sdk_goes_to_the_configured_base_url(app, shop, twilio):
    app.config["TWILIO_API_BASE"] = "http://127.0.0.1:9"  # nothing listens on the discard port
    configure(shop, sms_enabled=True, sms_numbers=["+14155552671"])
    make_low(shop, "Oat Milk")
    worker = dispatcher(app)
    assert worker.run_once()["failed"] == 1
    assert twilio.requests == []
    assert deliveries(shop)[0]["last_error"] == "Twilio could not be reached; the message will be tried again."


def test_twilio_settings_removed_after_enabling_show_plainly_on_the_delivery(app, shop):
    configure(shop, sms_enabled=True, sms_numbers=["+14155552671"])
    app.config["TWILIO_SMS_FROM"] = None  # the administrator took the setting away later
    make_low(shop, "Oat Milk")
    dispatcher(app).run_once()
    [failed] = deliveries(shop)
    assert failed["status"] == "failed"
    assert failed["last_error"] == "Twilio is not configured on this server: ask your administrator."


def test_a_channel_the_server_is_not_configured_for_cannot_be_enabled(app, shop):
    app.config["TWILIO_SMS_FROM"] = None
    app.config["TELEGRAM_BOT_TOKEN"] = None
    for body, field in (({"sms_enabled": True, "sms_numbers": ["+14155552671"]}, "sms_enabled"),
                        ({"telegram_enabled": True, "telegram_chat_ids": ["-1001234567890"]}, "telegram_enabled")):
        response = shop.post("/api/notifications/settings", json=body)
        assert response.status_code == 400
        assert "not configured on this server" in response.get_json()["details"][field]
    settings = shop.get("/api/notifications/settings").get_json()
    assert settings["sms_enabled"] is False and settings["sms_numbers"] == []
    assert settings["channels"]["sms"] == {
        "available": False, "reason": "Twilio is not configured on this server: ask your administrator."}
    assert settings["channels"]["email"]["available"] is True
    page = shop.get("/settings/notifications").get_data(as_text=True)
    assert page.count("Not configured on this server: ask your administrator.") == 2  # SMS and Telegram
