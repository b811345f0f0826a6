"""A kind is one registry row: a kind registered here, by the test alone, reaches the bell, every
channel (email, SMS, WhatsApp, Slack, Telegram, the webhook) and the digest with its own words; and
every kind renders and sends right on every channel, one alert at a time and in a digest."""
from datetime import timedelta

import pytest
from sqlalchemy import String, cast, func, literal

from modules.alerts import kinds
from modules.delivery import messages
from modules.delivery.channels import names
from modules.delivery.channels.push import PushChannel
from modules.delivery.digest import enqueue_due_digests
from modules.delivery.outbox import add_deliveries, message_row
from modules.extensions import db
from modules.retail.models import Product
from modules.timeutil import isoformat, utcnow
from tests.support.deliveries import PUSH_SUBJECT, configure, delivery_config, dispatcher

BOT_TOKEN = "123456:test-bot-token"
SMS, WHATSAPP = "+14155552671", "+14155552672"
MAIL = "owner@cornershop.example"
VAPID_SUBJECT = PUSH_SUBJECT


def overstock_message(name, stock, category, days_left=None):
    return f"Overstocked: {name} - {stock} on the shelf ({category or 'Uncategorized'})"


def sql_overstock_message(name, stock, category, days_left):
    return (literal("Overstocked: ") + name + literal(" - ") + cast(stock, String) + literal(" on the shelf (")
            + func.coalesce(category, "Uncategorized") + literal(")"))


def overstock_rule(scan):
    return [scan.candidates(Product.stock, scan.threshold, literal(None)).where(Product.stock >= 100)]


OVERSTOCK = kinds.Kind(
    "overstock", overstock_rule, overstock_message, sql_overstock_message, level="surplus", label="Overstocked",
    preference_label="Too much stock on the shelf", badge="Surplus", digest_line="overstocked", priority="normal")


@pytest.fixture
def overstock():
    kinds.register(OVERSTOCK)
    yield OVERSTOCK
    kinds.unregister(OVERSTOCK.name)


@pytest.fixture
def app_config(smtp_server, twilio, receiver, push_service):
    receiver.default = (200, {"ok": True, "result": {"message_id": 7}})  # Telegram's answer; the others ignore it
    return delivery_config(smtp_server, twilio, WEBHOOK_ALLOW_PRIVATE=True, TELEGRAM_BOT_TOKEN=BOT_TOKEN,
                           TELEGRAM_API_BASE=receiver.url + "/telegram", VAPID_SUBJECT=VAPID_SUBJECT)


def every_channel(shop, receiver, push_service=None, **extra):
    if push_service is not None:  # push is a person's own device, not on the shop's lists: the owner's
        assert shop.post("/api/me/push-subscriptions", json=push_service.subscription()).status_code == 201
    return configure(shop, email_enabled=True, email_recipients=[MAIL], sms_enabled=True, sms_numbers=[SMS],
                     whatsapp_enabled=True, whatsapp_numbers=[WHATSAPP], slack_enabled=True,
                     slack_webhook_url=receiver.url + "/slack", telegram_enabled=True,
                     telegram_chat_ids=["-1001234567890"], webhook_enabled=True, webhook_url=receiver.url + "/hook",
                     **extra)


class Received:
    """What each channel's far end got, as text, by channel name."""

    def __init__(self, smtp_server, twilio, receiver, push_service):
        self.smtp, self.twilio, self.receiver, self.push = smtp_server, twilio, receiver, push_service

    def texts(self):
        posts = self.receiver.posts
        return {
            "email": [m.subject + "\n" + m.part("text/plain") for m in self.smtp.messages()],
            "sms": [f["Body"] for f in self.twilio.messages(SMS)],
            "whatsapp": [f["Body"] for f in self.twilio.messages("whatsapp:" + WHATSAPP)],
            "slack": [p.json()["text"] for p in posts if p.path == "/slack"],
            "telegram": [p.json()["text"] for p in posts if p.path.startswith("/telegram")],
            "webhook": [p.json() for p in posts if p.path == "/hook"],
            "push": [p.payload for p in self.push.received()],
        }


def test_the_throwaway_kind_has_every_channel_covered():
    # The test below names each channel's far end; a channel added to the registry must be added there.
    assert set(names()) == {"email", "sms", "whatsapp", "slack", "telegram", "webhook", "push"}


def test_a_kind_registered_by_a_test_reaches_the_bell_every_channel_and_the_digest(
        app, shop, overstock, smtp_server, twilio, receiver, push_service):
    every_channel(shop, receiver, push_service)
    rice = shop.add_product("Rice", stock=10, category="Grains")
    answer = shop.post(f"/api/products/{rice['id']}/stock", json={"delta": 140, "reason": "delivery"}).get_json()
    text = "Overstocked: Rice - 150 on the shelf (Grains)"
    assert answer["alert"]["message"] == text and answer["alert"]["kind"] == "overstock"
    [bell] = shop.get("/api/notifications").get_json()["items"]
    assert (bell["kind"], bell["level"], bell["badge"], bell["message"]) == ("overstock", "surplus", "Surplus", text)
    assert "Surplus" in shop.get("/notifications").get_data(as_text=True)
    assert dispatcher(app).run_once()["sent"] == 7
    got = Received(smtp_server, twilio, receiver, push_service).texts()
    [mail] = got["email"]
    assert mail.startswith("Overstocked: Rice at Corner Shop\n") and text in mail
    for channel in ("sms", "whatsapp", "slack", "telegram"):
        [line] = got[channel]
        assert text in line, (channel, line)
    [event] = got["webhook"]
    assert (event["kind"], event["message"], event["product"]["stock"]) == ("overstock", text, 150)
    [push] = got["push"]
    assert (push["title"], push["body"], push["kind"]) == ("Overstocked: Rice at Corner Shop", text, "overstock")

    # The preferences page offers it, and a person may choose it alone.
    assert "Too much stock on the shelf" in shop.get("/settings/preferences").get_data(as_text=True)
    chosen = shop.patch("/api/me/preferences", json={"kinds": ["overstock"]})
    assert chosen.status_code == 200 and chosen.get_json()["kinds"] == ["overstock"]

    # In the digest: its own line, not "low" nor "back in stock".
    every_channel(shop, receiver, delivery_mode="digest", digest_time="00:00")
    beans = shop.add_product("Beans", stock=5)
    shop.post(f"/api/products/{beans['id']}/stock", json={"delta": 200, "reason": "delivery"})
    assert enqueue_due_digests(utcnow() + timedelta(days=1)) == 1
    # Six digests, and Beans' push at once (a device is always instant).
    assert dispatcher(app).run_once(now=utcnow() + timedelta(days=1))["sent"] == 7
    got = Received(smtp_server, twilio, receiver, push_service).texts()
    assert got["push"][-1]["body"] == "Overstocked: Beans - 205 on the shelf (Uncategorized)"
    digest_mail = got["email"][-1]
    assert "Overstocked: Beans - 205 on the shelf (Uncategorized)" in digest_mail
    assert "Back in Stock" not in digest_mail and "Low Stock" not in digest_mail
    for channel in ("sms", "whatsapp", "slack", "telegram"):
        assert "(1 overstocked)" in got[channel][-1], (channel, got[channel][-1])
    assert got["webhook"][-1]["kind"] == "digest"


def _item(kind, product="Milk", stock=3):
    return messages.AlertItem(product, "Dairy", stock, 5, kind.name, 2 if kind.name == "forecast" else None, 1, "M-1")


@pytest.mark.parametrize("mode", ["instant", "digest"])
def test_every_kind_renders_and_sends_on_every_channel(app, shop, overstock, smtp_server, twilio, receiver,
                                                        push_service, mode):
    every_channel(shop, receiver)
    subscription = push_service.subscription()  # a device the owner subscribed (a recipient row)
    assert shop.post("/api/me/push-subscriptions", json=subscription).status_code == 201
    device = PushChannel.validate(subscription, app.config)
    shop_id, now = shop.client["id"], utcnow()
    rows = []
    for n, kind in enumerate(kinds.KINDS.values()):
        item = _item(kind, product=f"Product {n}")
        notice = messages.Notice("alerts" if mode == "instant" else "digest", shop_id, "Corner Shop", (item,),
                                 date=now.date().isoformat() if mode == "digest" else None, created_at=isoformat(now))
        for target_channel, address in (("email", MAIL), ("sms", SMS), ("whatsapp", WHATSAPP),
                                        ("slack", receiver.url + "/slack"), ("telegram", "-1001234567890"),
                                        ("webhook", receiver.url + "/hook"), ("push", device)):
            rows.append(message_row(shop_id, f"test:{mode}:{kind.name}", target_channel, address, notice, now))
    add_deliveries(rows)
    db.session.commit()
    assert dispatcher(app).run_once()["sent"] == len(rows)
    got = Received(smtp_server, twilio, receiver, push_service).texts()
    for n, kind in enumerate(kinds.KINDS.values()):
        item = _item(kind, product=f"Product {n}")
        headline = item.headline
        assert headline == kind.message("Product " + str(n), item.stock, "Dairy", item.days_left)
        mail = next(m for m in got["email"] if item.product in m)
        assert headline in mail
        if mode == "instant":
            assert mail.startswith(f"{kind.label}: {item.product} at Corner Shop")
        for channel in ("sms", "whatsapp", "slack", "telegram"):
            line = next(t for t in got[channel] if item.product in t)
            assert (headline if mode == "instant" else f"(1 {kind.digest_line})") in line, (kind.name, channel, line)
        event = next(e for e in got["webhook"] if item.product in e["message"] or e["kind"] == "digest")
        assert event["kind"] == (kind.event if mode == "instant" else "digest")
        push = next(p for p in got["push"] if item.product in p["body"])
        assert headline in push["body"] and push["kind"] == (kind.name if mode == "instant" else "digest")
