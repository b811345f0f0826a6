"""Email, WhatsApp and SMS: the outbox and the dispatcher against a real SMTP server (aiosmtpd)
and the real Twilio SDK talking to a local double of the Messages resource."""
import threading
from datetime import timedelta

import pytest

from modules.delivery.dispatcher import claim
from modules.timeutil import utcnow
from tests.support.deliveries import (
    SMS_FROM, WHATSAPP_FROM, configure, deliveries, delivery_config, delivery_rows, dispatcher, later, make_low,
)

OWNER_MAILS = ["owner@cornershop.example", "buyer@cornershop.example"]
WHATSAPP = "+447911123456"
SMS = "+14155552671"


@pytest.fixture
def app_config(smtp_server, twilio):
    return delivery_config(smtp_server, twilio)


@pytest.fixture
def all_channels(shop):
    return configure(shop, email_enabled=True, email_recipients=OWNER_MAILS, whatsapp_enabled=True,
                     whatsapp_numbers=[WHATSAPP], sms_enabled=True, sms_numbers=[SMS])


def test_low_product_reaches_every_recipient_once_on_every_channel(app, shop, all_channels, smtp_server, twilio):
    product = make_low(shop, "Oat Milk", category="Dairy")["product"]
    assert sorted((d["channel"], d["status"]) for d in deliveries(shop)) == [
        ("email", "pending"), ("email", "pending"), ("sms", "pending"), ("whatsapp", "pending")]

    counts = dispatcher(app).run_once()
    assert counts["sent"] == 4
    assert sorted(r for m in smtp_server.messages() for r in m.rcpt_tos) == sorted(OWNER_MAILS)
    assert sorted((f["To"], f["From"]) for f in twilio.messages()) == [(SMS, SMS_FROM),
                                                                       (f"whatsapp:{WHATSAPP}", WHATSAPP_FROM)]
    assert all(d["status"] == "sent" and d["sent_at"] and d["attempts"] == 1 for d in deliveries(shop))
    assert all(r.provider_id for r in delivery_rows())

    # Nothing twice: another cycle, and the same product selling again the same day.
    assert shop.post(f"/api/products/{product['id']}/stock", json={"delta": -1, "reason": "sale"}).status_code == 200
    assert dispatcher(app).run_once()["claimed"] == 0
    assert len(smtp_server.messages()) == 2 and len(twilio.messages()) == 2


def test_email_names_product_and_shop_with_plain_html_and_link(app, shop, all_channels, smtp_server):
    product = make_low(shop, "Oat Milk", category="Dairy", stock=10, delta=-8, sku="OAT-1")["product"]
    dispatcher(app).run_once()
    mail = smtp_server.messages(to=OWNER_MAILS[0])[0]
    assert "Oat Milk" in mail.subject and "Corner Shop" in mail.subject
    assert mail.mail_from == "alerts@stockbell.test"
    text, html = mail.part("text/plain"), mail.part("text/html")
    for body in (text, html):
        assert "Oat Milk" in body and "Dairy" in body and "OAT-1" in body
        assert f"http://stockbell.test/retail/products/{product['id']}/edit" in body
        assert f"You get this because {OWNER_MAILS[0]} is on the alert list of Corner Shop" in body
    assert "Stock: 2" in text and "Threshold: 5" in text
    assert "<td align=right>2</td><td align=right>5</td>" in html


def test_text_messages_are_short_and_carry_the_alert(app, shop, all_channels, twilio):
    make_low(shop, "Oat Milk", stock=10, delta=-10)
    dispatcher(app).run_once()
    sms = twilio.messages(to=SMS)[0]
    assert "Out of Stock: Oat Milk (Uncategorized)" in sms["Body"]
    assert "Corner Shop" in sms["Body"] and "http://stockbell.test/retail/products/1/edit" in sms["Body"]
    assert len(sms["Body"]) < 320


def test_messages_go_only_to_the_recipients_of_the_shop_that_alerted(app, shop, other_shop, all_channels,
                                                                      smtp_server, twilio):
    configure(other_shop, email_enabled=True, email_recipients=["rival@rival.example"], sms_enabled=True,
              sms_numbers=["+12025550143"])
    make_low(shop, "Oat Milk")
    dispatcher(app).run_once()
    assert smtp_server.messages(to="rival@rival.example") == []
    assert twilio.messages(to="+12025550143") == []
    assert deliveries(other_shop) == []
    assert len(deliveries(shop)) == 4


def test_smtp_outage_loses_nothing_and_sends_once_when_the_server_returns(app, shop, smtp_server):
    configure(shop, email_enabled=True, email_recipients=[OWNER_MAILS[0]])
    smtp_server.stop()

    result = make_low(shop, "Oat Milk")
    assert result["alert"] is not None  # the bell rings regardless of the mail server
    assert shop.get("/api/notifications/unread-count").get_json()["count"] == 1

    worker = dispatcher(app)
    start = utcnow()
    assert worker.run_once(now=start)["failed"] == 1
    [failed] = deliveries(shop, status="failed")
    # In the shop owner's words; the raw error ("Connection refused") goes to the log.
    assert failed["attempts"] == 1
    assert failed["last_error"] == "The mail server could not be reached; the message will be tried again."
    [row] = delivery_rows()
    assert row.next_attempt_at == start + timedelta(seconds=30)
    assert worker.run_once(now=start + timedelta(seconds=29))["claimed"] == 0  # backing off, not hammering

    smtp_server.start()
    assert worker.run_once(now=later(31))["sent"] == 1
    assert worker.run_once(now=later(3600))["claimed"] == 0
    assert len(smtp_server.messages()) == 1
    [sent] = deliveries(shop)
    assert sent["status"] == "sent" and sent["attempts"] == 2


def test_backoff_doubles_and_the_last_attempt_goes_dead(app, shop, smtp_server):
    configure(shop, email_enabled=True, email_recipients=[OWNER_MAILS[0]])
    smtp_server.stop()
    make_low(shop, "Oat Milk")
    worker, now = dispatcher(app), utcnow()
    worker.run_once(now=now)
    assert delivery_rows()[0].next_attempt_at == now + timedelta(seconds=30)
    worker.run_once(now=now + timedelta(seconds=30))
    assert delivery_rows()[0].next_attempt_at == now + timedelta(seconds=90)
    worker.run_once(now=now + timedelta(seconds=90))  # DELIVERY_MAX_ATTEMPTS is 3
    [row] = delivery_rows()
    assert (row.status, row.attempts) == ("dead", 3)
    assert worker.run_once(now=now + timedelta(days=1))["claimed"] == 0


def test_refused_recipient_is_dead_at_once_and_the_others_still_go(app, shop, smtp_server):
    smtp_server.refuse[OWNER_MAILS[1]] = "550 5.1.1 No such user here"
    configure(shop, email_enabled=True, email_recipients=OWNER_MAILS)
    make_low(shop, "Oat Milk")
    assert dispatcher(app).run_once() == {"digests": 0, "claimed": 2, "sent": 1, "dead": 1}
    dead = deliveries(shop, status="dead")
    assert [d["recipient"] for d in dead] == [OWNER_MAILS[1]]
    assert "550" in dead[0]["last_error"] and dead[0]["attempts"] == 1
    assert [m.rcpt_tos for m in smtp_server.messages()] == [[OWNER_MAILS[0]]]


def test_temporary_smtp_refusal_is_retried(app, shop, smtp_server):
    smtp_server.refuse[OWNER_MAILS[0]] = "451 4.3.0 Mailbox busy, try later"
    configure(shop, email_enabled=True, email_recipients=[OWNER_MAILS[0]])
    make_low(shop, "Oat Milk")
    worker = dispatcher(app)
    assert worker.run_once()["failed"] == 1
    smtp_server.refuse.clear()
    assert worker.run_once(now=later(31))["sent"] == 1
    assert len(smtp_server.messages()) == 1


@pytest.mark.parametrize("status", [429, 500])
def test_twilio_rate_limit_and_server_error_are_retried(app, shop, twilio, status):
    configure(shop, sms_enabled=True, sms_numbers=[SMS])
    twilio.fail_next.append(status)
    make_low(shop, "Oat Milk")
    worker = dispatcher(app)
    assert worker.run_once()["failed"] == 1
    [failed] = deliveries(shop)
    assert failed["status"] == "failed" and f"Twilio refused the message (HTTP {status}" in failed["last_error"]
    assert worker.run_once(now=later(31))["sent"] == 1
    assert len(twilio.requests) == 2 and len(twilio.messages()) == 1


def test_twilio_rejecting_a_number_is_permanent(app, shop, twilio):
    configure(shop, whatsapp_enabled=True, whatsapp_numbers=[WHATSAPP])
    twilio.invalid.add(f"whatsapp:{WHATSAPP}")
    make_low(shop, "Oat Milk")
    worker = dispatcher(app)
    assert worker.run_once()["dead"] == 1
    [dead] = deliveries(shop)
    assert dead["status"] == "dead" and "21211" in dead["last_error"]
    assert worker.run_once(now=later(3600))["claimed"] == 0
    assert len(twilio.requests) == 1


def test_a_claim_whose_sender_died_is_taken_again_after_its_lease(app, shop, smtp_server):
    configure(shop, email_enabled=True, email_recipients=[OWNER_MAILS[0]])
    make_low(shop, "Oat Milk")
    now = utcnow()
    with app.app_context():
        [taken] = claim(10, now, lease_seconds=60)  # a dispatcher claims it and dies before sending
    assert deliveries(shop)[0]["status"] == "sending"

    worker = dispatcher(app)
    assert worker.run_once(now=now + timedelta(seconds=59))["claimed"] == 0  # the lease still holds
    assert worker.run_once(now=now + timedelta(seconds=61))["sent"] == 1
    [row] = delivery_rows()
    assert (row.id, row.status, row.attempts) == (taken.id, "sent", 2)
    assert len(smtp_server.messages()) == 1


def test_two_dispatchers_send_each_message_exactly_once(app, shop, smtp_server):
    configure(shop, email_enabled=True, email_recipients=OWNER_MAILS)
    for i in range(30):
        shop.add_product(f"Product {i:02d}", stock=1)
    assert shop.post("/api/alerts/trigger-check", json={}).status_code == 200
    total = len(delivery_rows())
    assert total == 60

    start = threading.Barrier(2)
    sent_by = [0, 0]

    def drain(index):
        worker = dispatcher(app, batch_size=4)
        start.wait()
        while (counts := worker.run_once()) is not None and counts["claimed"]:
            sent_by[index] += counts["sent"]
        assert counts is not None, worker.last_error

    threads = [threading.Thread(target=drain, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)

    rows = delivery_rows()
    assert {(r.status, r.attempts) for r in rows} == {("sent", 1)}  # nobody claimed a row twice
    assert sum(sent_by) == total
    received = [(m.rcpt_tos[0], m.subject) for m in smtp_server.messages()]
    assert len(received) == total and len(set(received)) == total


def test_email_batch_shares_one_smtp_connection(app, shop, smtp_server):
    configure(shop, email_enabled=True, email_recipients=OWNER_MAILS)
    for i in range(5):
        make_low(shop, f"Product {i}")
    assert dispatcher(app).run_once()["sent"] == 10
    assert smtp_server.connections == 1


def test_test_message_is_queued_and_sent(app, shop, all_channels, smtp_server, twilio):
    response = shop.post("/api/notifications/test", json={"channel": "email"})
    assert response.status_code == 202 and response.get_json() == {"queued": 2}
    response = shop.post("/api/notifications/test", json={"channel": "sms"})
    assert response.status_code == 202 and response.get_json() == {"queued": 1}
    dispatcher(app).run_once()
    assert sorted(m.subject for m in smtp_server.messages()) == ["Stockbell test message for Corner Shop"] * 2
    assert "test sms message" in twilio.messages(to=SMS)[0]["Body"]


def test_test_message_needs_an_enabled_channel_and_a_manager(app, shop):
    response = shop.post("/api/notifications/test", json={"channel": "whatsapp"})
    assert response.status_code == 400 and "channel" in response.get_json()["details"]
    configure(shop, email_enabled=True, email_recipients=[OWNER_MAILS[0]])
    staff = shop.add_user("clerk@cornershop.example", role="staff")
    assert staff.post("/api/notifications/test", json={"channel": "email"}).status_code == 403
    assert delivery_rows() == []


def test_health_shows_the_dispatcher_and_deliveries_due_and_dead(app, client, shop, smtp_server):
    app.config["HEALTH_TOKEN"] = "health-token-for-tests"  # the cross-shop counts are for its holder
    client.environ_base["HTTP_AUTHORIZATION"] = "Bearer health-token-for-tests"
    smtp_server.refuse[OWNER_MAILS[1]] = "550 5.1.1 No such user here"
    configure(shop, email_enabled=True, email_recipients=OWNER_MAILS)
    make_low(shop, "Oat Milk")
    body = client.get("/health").get_json()
    assert body["deliveries"] == {"due": 2, "retrying": 0, "dead": 0}
    assert body["dispatcher"]["running"] is False
    smtp_server.stop()
    app.extensions["dispatcher"] = worker = dispatcher(app)
    worker.run_once()
    # The outage shows while the messages wait for their next attempt.
    assert client.get("/health").get_json()["deliveries"] == {"due": 0, "retrying": 2, "dead": 0}
    smtp_server.start()
    smtp_server.refuse[OWNER_MAILS[1]] = "550 5.1.1 No such user here"
    worker.run_once(now=later(31))
    body = client.get("/health").get_json()
    assert body["deliveries"] == {"due": 0, "retrying": 0, "dead": 1}
    assert body["dispatcher"]["sent"] == 1 and body["dispatcher"]["dead"] == 1
    # A client asking for failures gets the dead one too.
    failed = shop.get("/api/notifications/deliveries?status=failed").get_json()["items"]
    assert [(d["recipient"], d["status"]) for d in failed] == [(OWNER_MAILS[1], "dead")]


def test_deliveries_page_shows_each_message_fate(app, shop, smtp_server):
    smtp_server.refuse[OWNER_MAILS[1]] = "550 5.1.1 No such user here"
    configure(shop, email_enabled=True, email_recipients=OWNER_MAILS)
    make_low(shop, "Oat Milk")
    dispatcher(app).run_once()
    page = shop.get("/notifications/deliveries").get_data(as_text=True)
    assert OWNER_MAILS[0] in page and OWNER_MAILS[1] in page
    assert "badge-sent" in page and "badge-dead" in page and "SMTP 550: 5.1.1 No such user here" in page
