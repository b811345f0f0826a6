"""Digest mode: one message per shop, channel and recipient per shop-local day at digest_time,
listing every product that alerted since the last digest, out of stock first. The bell is unchanged."""
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from modules.delivery.digest import digest_instant
from modules.timeutil import utcnow
from tests.support.deliveries import configure, deliveries, delivery_config, delivery_rows, dispatcher, make_low

TZ = "Asia/Tokyo"
MAIL = "owner@cornershop.example"
SMS = "+14155552671"


@pytest.fixture
def app_config(smtp_server, twilio):
    return delivery_config(smtp_server, twilio)


@pytest.fixture
def tokyo_shop(make_shop):
    return make_shop("Corner Shop", timezone=TZ)


def next_digest_at():
    """A digest time two hours from now, shop-local, and the UTC instant it falls on."""
    local = (datetime.now(timezone.utc) + timedelta(hours=2)).astimezone(ZoneInfo(TZ)).replace(second=0, microsecond=0)
    return local.strftime("%H:%M"), local.astimezone(timezone.utc).replace(tzinfo=None)


def test_digest_time_is_shop_local():
    day, due = digest_instant("Asia/Tokyo", "09:00", datetime(2026, 3, 10, 1, 30))
    assert (day.isoformat(), due) == ("2026-03-10", datetime(2026, 3, 10, 0, 0))
    day, due = digest_instant("America/New_York", "09:00", datetime(2026, 7, 1, 3, 0))  # still June 30 there
    assert (day.isoformat(), due) == ("2026-06-30", datetime(2026, 6, 30, 13, 0))


def test_digest_mode_sends_one_message_a_day_listing_every_alert(app, tokyo_shop, smtp_server, twilio):
    digest_time, due = next_digest_at()
    configure(tokyo_shop, email_enabled=True, email_recipients=[MAIL], sms_enabled=True, sms_numbers=[SMS],
              delivery_mode="digest", digest_time=digest_time)
    make_low(tokyo_shop, "Oat Milk", stock=10, delta=-8)
    make_low(tokyo_shop, "Rye Bread", stock=10, delta=-10)

    # The bell rings as in instant mode; no message leaves before the digest time.
    assert tokyo_shop.get("/api/notifications/unread-count").get_json()["count"] == 2
    worker = dispatcher(app)
    assert worker.run_once(now=utcnow())["digests"] == 0
    assert deliveries(tokyo_shop) == []

    assert worker.run_once(now=due + timedelta(seconds=30)) == {"digests": 1, "claimed": 2, "sent": 2}
    [mail] = smtp_server.messages()
    assert mail.rcpt_tos == [MAIL] and "2 products" in mail.subject and "1 out of stock" in mail.subject
    text = mail.part("text/plain")
    assert text.index("Out of Stock: Rye Bread") < text.index("Low Stock Alert: Oat Milk - Only 2 remaining")
    [sms] = twilio.messages()
    assert sms["To"] == SMS and "Rye Bread" in sms["Body"] and "Oat Milk" in sms["Body"]
    local_day = (due + timedelta(seconds=30)).replace(tzinfo=timezone.utc).astimezone(ZoneInfo(TZ)).date()
    assert {r.dedupe_key for r in delivery_rows()} == {f"digest:{tokyo_shop.client['id']}:{local_day}"}

    # Later the same day, and the next day with nothing new: no further message.
    assert worker.run_once(now=due + timedelta(hours=3))["digests"] == 0
    assert worker.run_once(now=due + timedelta(days=1, seconds=30))["claimed"] == 0
    assert len(smtp_server.messages()) == 1 and len(twilio.messages()) == 1


def test_instant_shops_are_not_digested_and_digest_shops_get_no_instant_messages(
        app, tokyo_shop, other_shop, smtp_server):
    digest_time, due = next_digest_at()
    configure(tokyo_shop, email_enabled=True, email_recipients=[MAIL], delivery_mode="digest",
              digest_time=digest_time)
    configure(other_shop, email_enabled=True, email_recipients=["rival@rival.example"])
    make_low(tokyo_shop, "Oat Milk")
    make_low(other_shop, "Flour")
    assert [d["recipient"] for d in deliveries(other_shop)] == ["rival@rival.example"]
    assert deliveries(tokyo_shop) == []
    dispatcher(app).run_once(now=due + timedelta(seconds=30))
    assert sorted(m.rcpt_tos[0] for m in smtp_server.messages()) == [MAIL, "rival@rival.example"]
    [digest] = smtp_server.messages(to=MAIL)
    assert "Oat Milk" in digest.part("text/plain") and "Flour" not in digest.part("text/plain")


def test_switching_to_digest_does_not_repeat_what_went_out_instantly(app, tokyo_shop, smtp_server):
    configure(tokyo_shop, email_enabled=True, email_recipients=[MAIL])
    make_low(tokyo_shop, "Oat Milk")
    worker = dispatcher(app)
    assert worker.run_once()["sent"] == 1
    digest_time, due = next_digest_at()
    configure(tokyo_shop, delivery_mode="digest", digest_time=digest_time)
    make_low(tokyo_shop, "Rye Bread")
    worker.run_once(now=due + timedelta(seconds=30))
    digest = smtp_server.messages()[-1].part("text/plain")
    assert "Rye Bread" in digest and "Oat Milk" not in digest


def test_the_digest_lists_each_product_once_as_it_stands_now(app, tokyo_shop, smtp_server):
    from modules.alerts.models import StockAlertLog
    from modules.extensions import db

    digest_time, due = next_digest_at()
    configure(tokyo_shop, email_enabled=True, email_recipients=[MAIL], delivery_mode="digest",
              digest_time=digest_time)
    oat = make_low(tokyo_shop, "Oat Milk", stock=10, delta=-8)["product"]
    # Oat Milk alerted yesterday too (the daily reminder): two log rows, one product.
    db.session.add(StockAlertLog(client_id=tokyo_shop.client["id"], product_id=oat["id"], kind="low",
                                 alert_date=(due - timedelta(days=1)).date(), stock_level=3, threshold_level=5,
                                 created_at=due - timedelta(hours=20)))
    db.session.commit()
    tokyo_shop.post(f"/api/products/{oat['id']}/stock", json={"delta": -1, "reason": "sale"})  # now 1
    rye = make_low(tokyo_shop, "Rye Bread", stock=10, delta=-10)["product"]
    assert tokyo_shop.delete(f"/api/products/{rye['id']}").status_code == 200  # archived: not listed
    jam = make_low(tokyo_shop, "Jam", stock=10, delta=-7)["product"]
    tokyo_shop.post(f"/api/products/{jam['id']}/stock", json={"delta": 27, "reason": "delivery"})  # back: 30

    dispatcher(app).run_once(now=due + timedelta(seconds=30))
    [mail] = smtp_server.messages()
    assert "2 products" in mail.subject and "out of stock" not in mail.subject
    text = mail.part("text/plain")
    assert text.count("Oat Milk") == 1 and "Low Stock Alert: Oat Milk - Only 1 remaining" in text
    assert "Rye Bread" not in text
    assert "Back in Stock: Jam - 30 in stock (Uncategorized)" in text
    assert text.index("Oat Milk") < text.index("Jam")
