"""Notification settings: the JSON API and the settings page refuse bad input whole."""
import re

import pytest


@pytest.fixture
def app_config():
    """Credentials for every channel (nothing is sent here): channels can be turned on."""
    return {"TWILIO_ACCOUNT_SID": "AC" + "0" * 32, "TWILIO_AUTH_TOKEN": "test-token", "TWILIO_SMS_FROM": "+15005550006",
            "TWILIO_WHATSAPP_FROM": "whatsapp:+14155238886", "TELEGRAM_BOT_TOKEN": "123456:test"}

DEFAULTS = {
    "low_stock_enabled": True, "low_stock_threshold": 5, "timezone": "UTC", "email_enabled": False,
    "email_recipients": [], "whatsapp_enabled": False, "whatsapp_numbers": [], "sms_enabled": False,
    "sms_numbers": [], "delivery_mode": "instant", "digest_time": "09:00",
    "forecast_days": 0, "forecast_window_days": 28, "notify_restocked": False, "currency": "USD",
    "slack_enabled": False, "slack_webhook_url": None, "telegram_enabled": False, "telegram_chat_ids": [],
    "webhook_enabled": False, "webhook_url": None,
}


def without_time(settings):
    return {k: v for k, v in settings.items() if k not in ("updated_at", "channels")}


def test_defaults_on_first_read(shop):
    settings = shop.get("/api/notifications/settings").get_json()
    assert without_time(settings) == DEFAULTS and settings["updated_at"]
    assert {name: state["available"] for name, state in settings["channels"].items()} == {
        "email": True, "whatsapp": True, "sms": True, "slack": True, "telegram": True, "webhook": True}


def test_partial_update_keeps_the_rest(shop):
    response = shop.post("/api/notifications/settings", json={"low_stock_threshold": 12, "timezone": "Asia/Tokyo"})
    assert response.status_code == 200
    assert without_time(response.get_json()) == {**DEFAULTS, "low_stock_threshold": 12, "timezone": "Asia/Tokyo"}
    assert shop.get("/api/auth/me").get_json()["client"]["timezone"] == "Asia/Tokyo"


def test_recipients_are_validated_and_normalized(shop):
    response = shop.post("/api/notifications/settings", json={
        "email_enabled": True, "email_recipients": ["Owner@Example.com"],
        "sms_enabled": True, "sms_numbers": ["+1 415 555 2671"], "whatsapp_numbers": ["whatsapp:+447911123456"]})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["email_recipients"] == ["Owner@example.com"]
    assert body["sms_numbers"] == ["+14155552671"] and body["whatsapp_numbers"] == ["+447911123456"]


@pytest.mark.parametrize("body, field", [
    ({"low_stock_threshold": -1}, "low_stock_threshold"),
    ({"low_stock_threshold": 1_000_001}, "low_stock_threshold"),
    ({"low_stock_threshold": "5"}, "low_stock_threshold"),
    ({"low_stock_threshold": 2.5}, "low_stock_threshold"),
    ({"low_stock_threshold": None}, "low_stock_threshold"),
    ({"low_stock_enabled": "yes"}, "low_stock_enabled"),
    ({"timezone": "Nowhere/City"}, "timezone"),
    ({"email_recipients": ["ok@example.com", "not an email"]}, "email_recipients"),
    ({"email_recipients": "ok@example.com"}, "email_recipients"),
    ({"sms_numbers": ["+1 000"]}, "sms_numbers"),
    ({"whatsapp_numbers": ["4155552671"]}, "whatsapp_numbers"),
    ({"delivery_mode": "hourly"}, "delivery_mode"),
    ({"digest_time": "25:00"}, "digest_time"),
    ({"digest_time": "9am"}, "digest_time"),
    ({"email_enabled": True}, "email_recipients"),
    ({"surprise": 1}, "surprise"),
])
def test_bad_settings_are_refused_whole(shop, body, field):
    before = shop.get("/api/notifications/settings").get_json()
    response = shop.post("/api/notifications/settings", json={"low_stock_threshold": 9, **body})
    assert response.status_code == 400
    assert field in response.get_json()["details"] and response.get_json()["error"]
    assert shop.get("/api/notifications/settings").get_json() == before


def test_staff_cannot_change_settings(shop):
    staff = shop.add_user("staff@example.com", "staff")
    assert staff.get("/api/notifications/settings").status_code == 200
    response = staff.post("/api/notifications/settings", json={"low_stock_threshold": 1})
    assert response.status_code == 403
    assert shop.get("/api/notifications/settings").get_json()["low_stock_threshold"] == 5


def test_manager_can_change_settings(shop):
    manager = shop.add_user("manager@example.com", "manager")
    assert manager.post("/api/notifications/settings", json={"low_stock_threshold": 1}).status_code == 200


def _page_token(http):
    html = http.get("/settings/notifications").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


FORM = {"low_stock_enabled": "1", "low_stock_threshold": "8", "timezone": "Europe/Berlin",
        "email_recipients": "a@example.com\nb@example.com", "whatsapp_numbers": "", "sms_numbers": "",
        "delivery_mode": "instant", "digest_time": "09:00"}


def test_settings_page_saves_and_redirects_with_message(shop):
    response = shop.http.post("/settings/notifications", data={**FORM, "email_enabled": "1",
                                                               "csrf_token": _page_token(shop.http)})
    assert response.status_code == 303 and response.headers["Location"].endswith("/settings/notifications")
    page = shop.http.get("/settings/notifications").get_data(as_text=True)
    assert "Notification settings saved." in page
    settings = shop.get("/api/notifications/settings").get_json()
    assert settings["low_stock_threshold"] == 8 and settings["email_enabled"] is True
    assert settings["email_recipients"] == ["a@example.com", "b@example.com"]
    assert settings["timezone"] == "Europe/Berlin"


def test_settings_page_unchecked_box_turns_alerts_off(shop):
    form = {k: v for k, v in FORM.items() if k != "low_stock_enabled"}
    shop.http.post("/settings/notifications", data={**form, "csrf_token": _page_token(shop.http)})
    assert shop.get("/api/notifications/settings").get_json()["low_stock_enabled"] is False


def test_settings_page_with_errors_rerenders_400_and_saves_nothing(shop):
    before = shop.get("/api/notifications/settings").get_json()
    response = shop.http.post("/settings/notifications", data={
        **FORM, "low_stock_threshold": "-3", "sms_numbers": "12345", "csrf_token": _page_token(shop.http)})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert 'data-field="low_stock_threshold"' in html and 'data-field="sms_numbers"' in html
    assert "Nothing was saved" in html
    assert shop.get("/api/notifications/settings").get_json() == before


def test_settings_page_is_read_only_for_staff(shop):
    staff = shop.add_user("staff@example.com", "staff")
    response = staff.http.post("/settings/notifications", data={**FORM, "csrf_token": _page_token(staff.http)})
    assert response.status_code == 403
    assert shop.get("/api/notifications/settings").get_json()["low_stock_threshold"] == 5


def test_recipients_differing_only_in_case_are_kept_once(shop):
    body = shop.post("/api/notifications/settings", json={
        "email_recipients": ["Ops@Example.com", "ops@example.com", "b@example.com"]}).get_json()
    assert body["email_recipients"] == ["Ops@example.com", "b@example.com"]
