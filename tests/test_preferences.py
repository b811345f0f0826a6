"""Each person chooses: which kinds reach them (bell and channels alike) and their own email, SMS
or WhatsApp, instant or in the digest. Untouched, everyone behaves as before."""
import pytest

from tests.support.deliveries import configure, delivery_config, delivery_rows, dispatcher, later, make_low

DEFAULTS = {
    "kinds": ["low", "out", "reorder", "forecast", "restocked"],
    "email": {"enabled": False, "address": None, "mode": "instant", "opted_out": False},
    "sms": {"enabled": False, "number": None, "mode": "instant", "opted_out": False},
    "whatsapp": {"enabled": False, "number": None, "mode": "instant", "opted_out": False},
}


@pytest.fixture
def app_config(smtp_server, twilio):
    return delivery_config(smtp_server, twilio)


def bell(user):
    return [n["message"] for n in user.get("/api/notifications").get_json()["items"]]


def test_defaults_keep_todays_behaviour(shop):
    assert shop.get("/api/me/preferences").get_json() == DEFAULTS
    make_low(shop, "Oat Milk")
    assert bell(shop) == ["Low Stock Alert: Oat Milk - Only 2 remaining (Uncategorized)"]
    assert delivery_rows() == []


def test_a_person_who_wants_only_restocks_hears_no_low_alert(shop):
    clerk = shop.add_user("clerk@cornershop.example")
    answer = clerk.patch("/api/me/preferences", json={"kinds": ["restocked"]})
    assert answer.status_code == 200 and answer.get_json()["kinds"] == ["restocked"]
    make_low(shop, "Oat Milk")
    assert bell(clerk) == [] and len(bell(shop)) == 1


def test_staff_get_their_own_email_instantly(app, shop, smtp_server):
    clerk = shop.add_user("clerk@cornershop.example")
    answer = clerk.patch("/api/me/preferences", json={"email": {"enabled": True, "address": "Clerk@Home.example"}})
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["email"] == {"enabled": True, "address": "Clerk@home.example", "mode": "instant",
                                          "opted_out": False}
    make_low(shop, "Oat Milk")
    assert dispatcher(app).run_once()["sent"] == 1
    assert [m.rcpt_tos for m in smtp_server.messages()] == [["Clerk@home.example"]]


def test_an_address_on_the_shops_list_and_someones_own_gets_one_message_per_alert(app, shop, smtp_server):
    configure(shop, email_enabled=True, email_recipients=["owner@cornershop.example"])
    clerk = shop.add_user("clerk@cornershop.example")
    answer = clerk.patch("/api/me/preferences", json={"email": {"enabled": True, "address": "owner@cornershop.example"}})
    assert answer.status_code == 200, answer.get_json()
    make_low(shop, "Oat Milk")
    assert len(delivery_rows(recipient="owner@cornershop.example")) == 1
    assert dispatcher(app).run_once(now=later(1))["sent"] == 1


def test_a_personal_digest_gathers_the_alerts_into_one_message(app, shop, smtp_server):
    configure(shop, digest_time="00:00", email_enabled=True, email_recipients=["shop@cornershop.example"])
    shop.patch("/api/me/preferences", json={"email": {"enabled": True, "address": "me@home.example",
                                                      "mode": "digest"}})
    make_low(shop, "Oat Milk")
    make_low(shop, "Rye Bread")
    assert len(delivery_rows(recipient="me@home.example")) == 0  # nothing instant for me
    assert len(delivery_rows(recipient="shop@cornershop.example")) == 2  # the shop's list stays instant
    dispatcher(app).run_once(now=later(1))  # today's digest time (00:00) has passed
    [digest] = smtp_server.messages(to="me@home.example")
    assert digest.subject.startswith("Stock digest for Corner Shop") and "2 products" in digest.subject


def test_kinds_filter_a_persons_own_channels_too(app, shop, smtp_server):
    shop.patch("/api/me/preferences", json={"kinds": ["forecast"],
                                            "email": {"enabled": True, "address": "me@home.example"}})
    make_low(shop, "Oat Milk")
    assert dispatcher(app).run_once()["claimed"] == 0 and smtp_server.messages() == []


@pytest.mark.parametrize("body, field", [
    ({"kinds": ["low", "weekly"]}, "kinds"),
    ({"kinds": "low"}, "kinds"),
    ({"email": {"enabled": True, "address": "not-an-address"}}, "email"),
    ({"email": {"enabled": True}}, "email"),
    ({"sms": {"enabled": True, "number": "12345"}}, "sms"),
    ({"sms": {"mode": "hourly"}}, "sms"),
    ({"sms": {"enabled": "yes"}}, "sms"),
    ({"whatsapp": "on"}, "whatsapp"),
    ({"telegram": {"enabled": True}}, "telegram"),
])
def test_bad_preferences_are_refused_whole(shop, body, field):
    answer = shop.patch("/api/me/preferences", json={"kinds": ["low"], **body})
    assert answer.status_code == 400 and field in answer.get_json()["details"]
    assert shop.get("/api/me/preferences").get_json() == DEFAULTS


def test_a_channel_the_server_lacks_cannot_be_chosen(app, shop):
    app.config["TWILIO_SMS_FROM"] = None
    answer = shop.patch("/api/me/preferences", json={"sms": {"enabled": True, "number": "+14155552671"}})
    assert answer.status_code == 400 and "not configured on this server" in answer.get_json()["details"]["sms"]


def test_the_preferences_page_saves_and_shows_the_choice(shop):
    answer = shop.post("/settings/preferences", data={
        "csrf_token": shop.csrf, "kinds": ["low", "restocked"], "email_enabled": "1",
        "email_address": "me@home.example", "email_mode": "digest", "sms_number": "", "sms_mode": "instant",
        "whatsapp_number": "", "whatsapp_mode": "instant"}, follow_redirects=True)
    assert answer.status_code == 200 and "Your preferences are saved." in answer.get_data(as_text=True)
    saved = shop.get("/api/me/preferences").get_json()
    assert saved["kinds"] == ["low", "restocked"]
    assert saved["email"] == {"enabled": True, "address": "me@home.example", "mode": "digest", "opted_out": False}
    bad = shop.post("/settings/preferences", data={"csrf_token": shop.csrf, "kinds": ["low"], "sms_enabled": "1",
                                                   "sms_number": "nope", "email_address": "me@home.example"})
    assert bad.status_code == 400 and "not a valid phone number" in bad.get_data(as_text=True)
    assert shop.get("/api/me/preferences").get_json() == saved


def test_preferences_are_each_persons_own(shop, other_shop):
    shop.patch("/api/me/preferences", json={"kinds": ["low"]})
    assert other_shop.get("/api/me/preferences").get_json() == DEFAULTS
