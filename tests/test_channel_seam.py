"""A channel is one module: it writes names in its own format's escaping, honours its provider's
"wait", reads its own receipts (kept when they come early, applied in order), and shared delivery
code names no channel."""
import ast
from datetime import timedelta
from pathlib import Path

import pytest

from modules.delivery.channels import names, retry_after_seconds
from modules.delivery.channels.http import slack_escape
from modules.timeutil import utcnow
from tests.support.deliveries import configure, deliveries, delivery_config, delivery_rows, dispatcher, make_low
from tests.support.deliveries import SMS_FROM

BOT_TOKEN = "123456:test-bot-token"
SMS = "+14155552671"
CALLBACK = "http://stockbell.test/api/deliveries/twilio-status"
DELIVERY = Path(__file__).resolve().parent.parent / "modules" / "delivery"


@pytest.fixture
def app_config(smtp_server, twilio, receiver):
    # A backoff of 1 s: only the provider's asked wait can hold a retry back for longer.
    return delivery_config(smtp_server, twilio, WEBHOOK_ALLOW_PRIVATE=True, TELEGRAM_BOT_TOKEN=BOT_TOKEN,
                           TELEGRAM_API_BASE=receiver.url + "/telegram", DELIVERY_BACKOFF_SECONDS=1)


# --- formats and escaping -----------------------------------------------------------------------

def test_slack_escapes_what_it_would_read_as_a_mention_or_a_link():
    assert slack_escape("<!channel> & <https://evil.example|click here>") == \
        "&lt;!channel&gt; &amp; &lt;https://evil.example|click here&gt;"


def test_a_product_named_like_a_slack_mention_pings_nobody(app, shop, receiver):
    configure(shop, slack_enabled=True, slack_webhook_url=receiver.url + "/slack")
    make_low(shop, "<!channel> Milk & <https://evil.example|click here>")
    assert dispatcher(app).run_once()["sent"] == 1
    text = receiver.posts[0].json()["text"]
    assert "<!channel>" not in text and "<https://evil" not in text and "<" not in text
    assert "&lt;!channel&gt; Milk &amp; &lt;https://evil.example|click here&gt;" in text


def test_telegram_sends_plain_text_with_the_name_as_written(app, shop, receiver):
    receiver.default = (200, {"ok": True, "result": {"message_id": 1}})
    configure(shop, telegram_enabled=True, telegram_chat_ids=["-1001234567890"])
    make_low(shop, "<b>Milk</b> & *cream*")
    assert dispatcher(app).run_once()["sent"] == 1
    body = receiver.posts[0].json()
    assert "parse_mode" not in body and "<b>Milk</b> & *cream*" in body["text"]


# --- the provider's "wait" ----------------------------------------------------------------------

def test_retry_after_reads_seconds_and_http_dates():
    now = utcnow().replace(microsecond=0)
    from email.utils import format_datetime
    from datetime import timezone
    assert retry_after_seconds("6") == 6
    assert retry_after_seconds(None) is None and retry_after_seconds("soon") is None
    at = format_datetime((now + timedelta(seconds=90)).replace(tzinfo=timezone.utc), usegmt=True)
    assert 80 <= retry_after_seconds(at, now.replace(tzinfo=timezone.utc)) <= 90


def _wait_is_honoured(app, shop, answers_429, resend_count):
    """After a 429 asking for 6 s: nothing at +5 s, the retry after +6 s."""
    make_low(shop, "Oat Milk")
    start = utcnow()
    assert dispatcher(app).run_once(now=start)["failed"] == resend_count
    for row in delivery_rows():
        assert row.next_attempt_at >= start + timedelta(seconds=6)
    assert dispatcher(app).run_once(now=start + timedelta(seconds=5))["claimed"] == 0
    assert dispatcher(app).run_once(now=start + timedelta(seconds=7))["sent"] == resend_count


@pytest.mark.parametrize("channel", ["slack", "webhook"])
def test_a_429_with_retry_after_6_is_not_retried_within_5_seconds(app, shop, receiver, channel):
    receiver.answers = [(429, b"slow down", {"Retry-After": "6"})]
    url = f"{receiver.url}/{channel}"
    configure(shop, **({"slack_enabled": True, "slack_webhook_url": url} if channel == "slack"
                       else {"webhook_enabled": True, "webhook_url": url}))
    _wait_is_honoured(app, shop, receiver.answers, 1)
    assert len(receiver.posts) == 2


def test_telegram_retry_after_in_its_answer_is_honoured(app, shop, receiver):
    receiver.answers = [(429, {"ok": False, "error_code": 429, "description": "Too Many Requests: retry after 6",
                               "parameters": {"retry_after": 6}})]
    receiver.default = (200, {"ok": True, "result": {"message_id": 1}})
    configure(shop, telegram_enabled=True, telegram_chat_ids=["-1001234567890"])
    _wait_is_honoured(app, shop, receiver.answers, 1)


def test_twilio_retry_after_is_honoured(app, shop, twilio):
    twilio.fail_next = [429]
    twilio.failure_headers = {"Retry-After": "6"}
    configure(shop, sms_enabled=True, sms_numbers=[SMS])
    _wait_is_honoured(app, shop, twilio.fail_next, 1)
    assert len(twilio.messages(SMS)) == 1


# --- receipts that come early or out of order ---------------------------------------------------

def _receipt(twilio, sid, status, error_code=None):
    form = {"StatusCallback": CALLBACK, "_sid": sid, "To": SMS, "From": SMS_FROM}
    return twilio.receipt(form, status, error_code)


def test_a_delivered_receipt_before_the_send_is_recorded_is_kept_and_applied(app, client, shop, twilio):
    sid = "SM" + "e" * 32
    twilio.next_sids = [sid]
    configure(shop, sms_enabled=True, sms_numbers=[SMS])
    make_low(shop, "Oat Milk")
    path, params, headers = _receipt(twilio, sid, "delivered")
    assert client.post(path, data=params, headers=headers).status_code == 204  # no row knows it yet
    assert deliveries(shop)[0]["status"] == "pending"
    assert dispatcher(app).run_once()["sent"] == 1
    [row] = deliveries(shop)
    assert row["status"] == "delivered" and row["delivered_at"] and row["provider_status"] == "delivered"


def test_an_early_forged_receipt_is_refused_and_not_kept(app, client, shop, twilio):
    sid = "SM" + "f" * 32
    twilio.next_sids = [sid]
    configure(shop, sms_enabled=True, sms_numbers=[SMS])
    make_low(shop, "Oat Milk")
    path, params, _ = _receipt(twilio, sid, "undelivered", 30005)
    assert client.post(path, data=params, headers={"X-Twilio-Signature": "forged"}).status_code == 403
    assert dispatcher(app).run_once()["sent"] == 1
    assert deliveries(shop)[0]["status"] == "sent"


@pytest.mark.parametrize("order", [("delivered", "undelivered"), ("undelivered", "delivered")])
def test_status_and_times_never_contradict_whatever_the_order(app, client, shop, twilio, order):
    configure(shop, sms_enabled=True, sms_numbers=[SMS])
    make_low(shop, "Oat Milk")
    assert dispatcher(app).run_once()["sent"] == 1
    sid = twilio.messages(SMS)[0]["_sid"]
    for status in order:
        path, params, headers = _receipt(twilio, sid, status, 30005 if status == "undelivered" else None)
        assert client.post(path, data=params, headers=headers).status_code == 204
    [row] = deliveries(shop)
    assert row["status"] == order[-1]
    if row["status"] == "delivered":
        assert row["delivered_at"] and row["last_error"] is None
    else:
        assert row["delivered_at"] is None and "30005" in row["last_error"]


# --- the seam itself ----------------------------------------------------------------------------

def test_shared_delivery_code_names_no_channel():
    channel_names = set(names())
    found = []
    for path in sorted(DELIVERY.glob("*.py")):
        tree = ast.parse(path.read_text())
        # A key into some data (order["supplier"]["email"]) is a field's name, not a channel's.
        keys = {id(node.slice) for node in ast.walk(tree) if isinstance(node, ast.Subscript)}
        for node in ast.walk(tree):
            if (isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in channel_names
                    and id(node) not in keys):
                found.append(f"{path.name}:{node.lineno}: {node.value!r}")
    assert found == []


def test_a_receipt_kept_for_a_message_never_recorded_is_forgotten_after_a_day(app, client, shop, twilio):
    from modules.delivery import retention
    from modules.delivery.models import ProviderReceipt
    from modules.extensions import db
    path, params, headers = _receipt(twilio, "SM" + "a" * 32, "delivered")
    assert client.post(path, data=params, headers=headers).status_code == 204
    kept = db.session.query(ProviderReceipt).count
    assert retention.prune_due(utcnow() + timedelta(hours=23)) is not None
    assert kept() == 1
    app.extensions["retention"]["next"] = 0.0  # the next pass now, not in five minutes
    assert retention.prune_due(utcnow() + timedelta(days=1, minutes=1)) is not None
    assert kept() == 0
