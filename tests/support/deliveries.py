"""Fixtures and helpers shared by the delivery tests: a real SMTP server, the Twilio double,
the app configured to use both, and a few steps written the way a shop takes them.

Loaded as a plugin by tests/conftest.py (`pytest_plugins`): a test asks for `smtp_server` and
`twilio` by name and imports only the helpers."""
from datetime import timedelta

import pytest
from sqlalchemy import select

from modules.extensions import db
from modules.delivery.dispatcher import Dispatcher
from modules.delivery.models import Delivery
from modules.timeutil import utcnow
from tests.support.http_double import HttpDouble
from tests.support.push_double import PushDouble
from tests.support.smtp import SmtpServer
from tests.support.twilio_double import TwilioDouble

WHATSAPP_FROM = "whatsapp:+14155238886"
SMS_FROM = "+15005550006"


@pytest.fixture
def smtp_server():
    with SmtpServer() as server:
        yield server


@pytest.fixture
def twilio():
    double = TwilioDouble().start()
    yield double
    double.stop()


@pytest.fixture
def receiver():
    """A local HTTP server that records every POST: Slack's, Telegram's and a webhook's far end."""
    double = HttpDouble().start()
    yield double
    double.stop()


PUSH_SUBJECT = "mailto:ops@stockbell.test"  # the VAPID subject the push service double expects


@pytest.fixture
def push_service():
    """A local push service: it hands out subscriptions, verifies VAPID and decrypts each push."""
    double = PushDouble(PUSH_SUBJECT).start()
    yield double
    double.stop()


def delivery_config(smtp_server, twilio, **extra):
    return {
        "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": smtp_server.port, "MAIL_TIMEOUT": 5,
        "MAIL_USE_TLS": False, "MAIL_USE_SSL": False, "MAIL_USERNAME": None, "MAIL_PASSWORD": None,
        "MAIL_DEFAULT_SENDER": "alerts@stockbell.test",
        "TWILIO_ACCOUNT_SID": twilio.account_sid, "TWILIO_AUTH_TOKEN": twilio.auth_token,
        "TWILIO_WHATSAPP_FROM": WHATSAPP_FROM, "TWILIO_SMS_FROM": SMS_FROM,
        "TWILIO_WHATSAPP_CONTENT_SID": None, "TWILIO_API_BASE": twilio.url, "TWILIO_TIMEOUT": 5,
        "DELIVERY_MAX_ATTEMPTS": 3, "DELIVERY_BACKOFF_SECONDS": 30,
        # Each alert at once unless a test is about bursts or priority (the defaults gather for 60 s
        # and batch the normal kinds for 300 s).
        "DELIVERY_COALESCE_SECONDS": 0, "DELIVERY_NORMAL_BATCH_SECONDS": 0, **extra,
    }


def configure(shop, **settings):
    response = shop.post("/api/notifications/settings", json=settings)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def make_low(shop, name, stock=10, delta=-8, **fields):
    """Add a product and sell from it through the API, as the till would."""
    product = shop.add_product(name, stock=stock, **fields)
    response = shop.post(f"/api/products/{product['id']}/stock", json={"delta": delta, "reason": "sale"})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def deliveries(shop, status=None):
    url = "/api/notifications/deliveries" + (f"?status={status}" if status else "")
    response = shop.get(url)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]


def delivery_rows(**where):
    """The outbox as the database holds it (all shops), oldest first."""
    stmt = select(Delivery).order_by(Delivery.id)
    for key, value in where.items():
        stmt = stmt.where(getattr(Delivery, key) == value)
    rows = db.session.execute(stmt).scalars().all()
    db.session.expunge_all()
    db.session.rollback()
    return rows


def dispatcher(app, **kwargs):
    return Dispatcher(app, poll_seconds=0.05, **kwargs)


def later(seconds):
    return utcnow() + timedelta(seconds=seconds)
