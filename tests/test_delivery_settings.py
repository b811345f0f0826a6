"""Channel settings: emails checked with email-validator, numbers with phonenumbers and stored in
E.164; one bad entry refuses the whole request and saves nothing."""
import pytest


@pytest.fixture
def app_config():
    """Credentials for every channel (nothing is sent here): channels can be turned on."""
    return {"TWILIO_ACCOUNT_SID": "AC" + "0" * 32, "TWILIO_AUTH_TOKEN": "test-token", "TWILIO_SMS_FROM": "+15005550006",
            "TWILIO_WHATSAPP_FROM": "whatsapp:+14155238886", "TELEGRAM_BOT_TOKEN": "123456:test"}


def settings(shop):
    return shop.get("/api/notifications/settings").get_json()


def test_channels_are_saved_with_numbers_in_e164(shop):
    response = shop.post("/api/notifications/settings", json={
        "email_enabled": True, "email_recipients": ["Owner@CornerShop.example"],
        "whatsapp_enabled": True, "whatsapp_numbers": ["+44 7911 123456"],
        "sms_enabled": True, "sms_numbers": ["whatsapp:+1 (415) 555-2671"],
        "delivery_mode": "digest", "digest_time": "07:30",
    })
    assert response.status_code == 200, response.get_json()
    saved = settings(shop)
    assert saved["whatsapp_numbers"] == ["+447911123456"] and saved["sms_numbers"] == ["+14155552671"]
    assert saved["email_recipients"] == ["Owner@cornershop.example"]
    assert (saved["delivery_mode"], saved["digest_time"]) == ("digest", "07:30")


@pytest.mark.parametrize("field, values", [
    ("email_recipients", ["owner@cornershop.example", "not-an-address"]),
    ("email_recipients", ["owner@@cornershop.example"]),
    ("whatsapp_numbers", ["+447911123456", "12345"]),
    ("sms_numbers", ["+1 415 555"]),
])
def test_one_bad_recipient_refuses_the_whole_request(shop, field, values):
    before = settings(shop)
    channel = {"email_recipients": "email", "whatsapp_numbers": "whatsapp", "sms_numbers": "sms"}[field]
    response = shop.post("/api/notifications/settings", json={
        f"{channel}_enabled": True, field: values, "low_stock_threshold": 9})
    assert response.status_code == 400
    assert field in response.get_json()["details"]
    after = settings(shop)
    assert after == before and after["low_stock_threshold"] == 5


def test_enabling_a_channel_needs_a_recipient(shop):
    response = shop.post("/api/notifications/settings", json={"sms_enabled": True})
    assert response.status_code == 400 and "sms_numbers" in response.get_json()["details"]
    assert settings(shop)["sms_enabled"] is False


@pytest.mark.parametrize("field, value", [("delivery_mode", "hourly"), ("digest_time", "9am"),
                                          ("digest_time", "24:00")])
def test_bad_delivery_mode_or_digest_time_is_refused(shop, field, value):
    response = shop.post("/api/notifications/settings", json={field: value})
    assert response.status_code == 400 and field in response.get_json()["details"]


def test_settings_form_with_a_bad_number_saves_nothing(shop):
    response = shop.post("/settings/notifications", data={
        "csrf_token": shop.csrf, "low_stock_enabled": "1", "low_stock_threshold": "7", "timezone": "UTC",
        "sms_enabled": "1", "sms_numbers": "+14155552671\nnot a number", "delivery_mode": "instant",
        "digest_time": "09:00"})
    assert response.status_code == 400
    assert "not a number" in response.get_data(as_text=True)
    saved = settings(shop)
    assert saved["sms_numbers"] == [] and saved["low_stock_threshold"] == 5


def test_settings_page_has_a_test_button_per_channel(shop):
    page = shop.get("/settings/notifications").get_data(as_text=True)
    for channel in ("email", "whatsapp", "sms"):
        assert f'data-test-channel="{channel}"' in page


def test_staff_see_which_channels_are_on_but_not_who_receives(shop):
    shop.post("/api/notifications/settings", json={"email_enabled": True, "email_recipients": ["boss@corner.example"],
                                                   "webhook_enabled": False})
    clerk = shop.add_user("clerk@cornershop.example")
    seen = clerk.get("/api/notifications/settings").get_json()
    assert seen["email_enabled"] is True and seen["low_stock_threshold"] == 5
    assert not {"email_recipients", "sms_numbers", "whatsapp_numbers", "slack_webhook_url", "telegram_chat_ids",
                "webhook_url"} & set(seen)
    page = clerk.get("/settings/notifications").get_data(as_text=True)
    assert "boss@corner.example" not in page


def test_a_change_of_settings_and_recipients_is_audited_without_secrets(app, shop):
    app.config["WEBHOOK_ALLOW_PRIVATE"] = True
    saved = shop.post("/api/notifications/settings", json={
        "email_enabled": True, "email_recipients": ["boss@corner.example"], "low_stock_threshold": 7,
        "webhook_enabled": True, "webhook_url": "http://127.0.0.1:9/hook"}).get_json()
    [entry] = shop.get("/api/audit").get_json()["items"]
    assert entry["action"] == "settings.update" and entry["user"]["email"] == shop.email
    assert entry["changes"]["email_recipients"] == [[], ["boss@corner.example"]]
    assert entry["changes"]["low_stock_threshold"] == [5, 7]
    assert saved["webhook_secret"] not in str(entry)


def test_a_huge_list_of_numbers_is_refused_without_checking_each(shop):
    answer = shop.post("/api/notifications/settings", json={"sms_numbers": ["+14155552671"] * 50_000})
    assert answer.status_code == 400
    assert answer.get_json()["details"]["sms_numbers"] == "At most 20 entries."
