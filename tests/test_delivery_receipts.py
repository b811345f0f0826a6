"""What happens after "sent": Twilio's signed status callbacks (delivered, undelivered, STOP),
one message per burst of alerts, and the limits a shop cannot talk its way past."""
from datetime import timedelta

import pytest

from modules.timeutil import utcnow
from tests.support.deliveries import configure, deliveries, delivery_config, delivery_rows, dispatcher, later, make_low

SMS = "+14155552671"
MAILS = ["owner@cornershop.example", "buyer@cornershop.example"]


@pytest.fixture
def app_config(smtp_server, twilio):
    return delivery_config(smtp_server, twilio)


def send_sms(app, shop, twilio, name="Oat Milk"):
    configure(shop, sms_enabled=True, sms_numbers=[SMS])
    make_low(shop, name)
    assert dispatcher(app).run_once()["sent"] == 1
    return twilio.messages()[-1]


def test_sms_asks_twilio_for_a_receipt_at_the_public_url(app, shop, twilio):
    form = send_sms(app, shop, twilio)
    assert form["StatusCallback"] == "http://stockbell.test/api/deliveries/twilio-status"


def test_a_signed_delivered_receipt_marks_the_row_delivered(app, client, shop, twilio):
    form = send_sms(app, shop, twilio)
    path, params, headers = twilio.receipt(form, "delivered")
    assert client.post(path, data=params, headers=headers).status_code == 204
    [row] = deliveries(shop)
    assert row["status"] == "delivered" and row["provider_status"] == "delivered" and row["delivered_at"]
    # A late "sent" callback does not take it back.
    path, params, headers = twilio.receipt(form, "sent")
    assert client.post(path, data=params, headers=headers).status_code == 204
    assert deliveries(shop)[0]["status"] == "delivered"


def test_a_forged_receipt_is_403_and_changes_nothing(app, client, shop, twilio):
    form = send_sms(app, shop, twilio)
    path, params, headers = twilio.receipt(form, "delivered", forge=True)
    answer = client.post(path, data=params, headers=headers)
    assert answer.status_code == 403 and answer.get_json()["error"] == "The signature is not valid."
    assert client.post(path, data=params).status_code == 403  # no signature at all
    tampered = twilio.receipt(form, "delivered")
    assert client.post(tampered[0], data={**tampered[1], "MessageStatus": "undelivered"},
                       headers=tampered[2]).status_code == 403
    [row] = deliveries(shop)
    assert row["status"] == "sent" and row["provider_status"] is None


def test_an_undelivered_whatsapp_outside_the_session_says_why(app, client, shop, twilio):
    configure(shop, whatsapp_enabled=True, whatsapp_numbers=[SMS])
    make_low(shop, "Oat Milk")
    dispatcher(app).run_once()
    path, params, headers = twilio.receipt(twilio.messages()[0], "undelivered", error_code=63016)
    assert client.post(path, data=params, headers=headers).status_code == 204
    [row] = deliveries(shop)
    assert row["status"] == "undelivered"
    assert row["last_error"].startswith("WhatsApp delivers free-form messages only inside a 24-hour session")
    page = shop.get("/settings/notifications").get_data(as_text=True)
    assert "Only inside a 24-hour session" in page


def test_stop_opts_the_number_out_until_it_is_entered_again(app, client, shop, twilio):
    form = send_sms(app, shop, twilio)
    path, params, headers = twilio.receipt(form, "undelivered", error_code=21610)
    assert client.post(path, data=params, headers=headers).status_code == 204
    assert "Opted out" in shop.get("/settings/notifications").get_data(as_text=True)
    make_low(shop, "Rye Bread")
    assert dispatcher(app).run_once()["claimed"] == 0 and len(twilio.messages()) == 1
    # Removed and entered again: messages flow again.
    configure(shop, sms_enabled=False, sms_numbers=[])
    configure(shop, sms_enabled=True, sms_numbers=[SMS])
    make_low(shop, "Spelt Flour")
    assert dispatcher(app).run_once()["sent"] == 1


def test_stop_also_stops_the_messages_already_waiting_for_that_number(app, client, shop, twilio):
    """Nothing more is sent after STOP: not even an alert queued before it, still gathering company."""
    app.config["DELIVERY_COALESCE_SECONDS"] = 60
    configure(shop, sms_enabled=True, sms_numbers=[SMS])
    make_low(shop, "Oat Milk")
    assert dispatcher(app).run_once(now=later(61))["sent"] == 1
    make_low(shop, "Rye Bread")  # waits up to 60 s for others
    path, params, headers = twilio.receipt(twilio.messages()[0], "undelivered", error_code=21610)
    assert client.post(path, data=params, headers=headers).status_code == 204
    outcome = dispatcher(app).run_once(now=later(61))
    assert (outcome["claimed"], outcome.get("sent", 0), outcome.get("dead", 0)) == (1, 0, 1)
    assert len(twilio.messages()) == 1
    assert [row["status"] for row in deliveries(shop)] == ["dead", "undelivered"]


def test_three_products_low_in_one_second_give_one_message_per_recipient(app, shop, smtp_server, twilio):
    app.config["DELIVERY_COALESCE_SECONDS"] = 60
    configure(shop, email_enabled=True, email_recipients=MAILS, sms_enabled=True, sms_numbers=[SMS])
    make_low(shop, "Apples", stock=10, delta=-8)
    make_low(shop, "Bananas", stock=10, delta=-9)  # (an empty shelf would not wait: test_priority.py)
    make_low(shop, "Cherries", stock=10, delta=-7)
    assert dispatcher(app).run_once(now=later(30))["claimed"] == 0  # the burst is still gathering

    counts = dispatcher(app).run_once(now=later(61))
    assert counts["sent"] == 9 and counts["claimed"] == 9  # 3 alerts x 3 recipients, as 3 messages
    for address in MAILS:
        [mail] = smtp_server.messages(to=address)
        assert mail.subject == "3 products need attention at Corner Shop"
        text = mail.part("text/plain")  # the lowest stock first
        assert text.index("Low Stock Alert: Bananas") < text.index("Low Stock Alert: Apples") < \
            text.index("Low Stock Alert: Cherries")
    [sms] = twilio.messages(to=SMS)
    assert "3 products need attention (3 low): Bananas, Apples, Cherries" in sms["Body"]
    assert len({r.provider_id for r in delivery_rows(channel="sms")}) == 1


def test_coalescing_off_sends_each_alert_at_once(app, shop, smtp_server):
    configure(shop, email_enabled=True, email_recipients=MAILS[:1])
    make_low(shop, "Apples")
    make_low(shop, "Bananas")
    assert dispatcher(app).run_once()["sent"] == 2
    assert len(smtp_server.messages()) == 2


def test_test_messages_are_limited_per_channel_and_hour(app, shop, smtp_server):
    configure(shop, email_enabled=True, email_recipients=MAILS[:1], sms_enabled=True, sms_numbers=[SMS])
    for _ in range(5):
        assert shop.post("/api/notifications/test", json={"channel": "email"}).status_code == 202
    refused = shop.post("/api/notifications/test", json={"channel": "email"})
    assert refused.status_code == 429 and 1 <= int(refused.headers["Retry-After"]) <= 3600
    assert "At most 5 test messages" in refused.get_json()["error"]
    assert len(delivery_rows(channel="email")) == 5
    assert shop.post("/api/notifications/test", json={"channel": "sms"}).status_code == 202  # its own count


def test_a_shop_over_its_daily_cap_waits_for_tomorrow_and_says_why(app, shop, smtp_server):
    app.config["SHOP_DAILY_MESSAGE_CAP"] = 2
    configure(shop, email_enabled=True, email_recipients=MAILS + ["clerk@cornershop.example"])
    make_low(shop, "Apples")
    counts = dispatcher(app).run_once()
    assert counts["sent"] == 2 and counts["held"] == 1
    [waiting] = deliveries(shop, status="pending")
    assert waiting["attempts"] == 0 and "daily limit of 2 messages is reached" in waiting["last_error"]
    assert "daily limit of 2 messages" in shop.get("/notifications/deliveries").get_data(as_text=True)
    assert dispatcher(app).run_once(now=later(3600))["claimed"] == 0  # not before the shop's midnight
    tomorrow = utcnow().replace(hour=0, minute=0, second=1) + timedelta(days=1)
    assert dispatcher(app).run_once(now=tomorrow)["sent"] == 1
    assert len(smtp_server.messages()) == 3


def test_the_deliveries_page_filters_pages_and_shows_the_shops_time(app, shop, smtp_server):
    configure(shop, email_enabled=True, email_recipients=MAILS[:1], timezone="Asia/Tokyo")
    for n in range(3):
        make_low(shop, f"Product {n}")
    dispatcher(app).run_once()
    page = shop.get("/notifications/deliveries?status=sent").get_data(as_text=True)
    assert page.count('class="status-sent"') == 3 and "JST" in page
    newest = deliveries(shop)[0]["id"]
    older = shop.get(f"/api/notifications/deliveries?before_id={newest}").get_json()["items"]
    assert [d["id"] for d in older] == [newest - 1, newest - 2]
    assert shop.get("/api/notifications/deliveries?before_id=0").status_code == 400
    assert shop.get("/notifications/deliveries?status=bogus").status_code == 400
