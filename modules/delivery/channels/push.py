"""Web Push through pywebpush and py-vapid (RFC 8030 delivery, RFC 8291 aes128gcm payloads, RFC
8292 VAPID): a recipient is one browser's subscription, `{endpoint, keys: {p256dh, auth}}` stored
as JSON text, one row per device of a person (always instant). The payload is JSON within 3,000
bytes; `Urgency: high` when the message holds a critical kind; a 404 or 410 means the
subscription is gone (the dispatcher removes it); a 429's Retry-After is honoured."""
import base64
import binascii
import json
import logging
import re
from functools import lru_cache
from urllib.parse import urlsplit

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid
from py_vapid.utils import b64urlencode
from pywebpush import WebPushException, webpush
from sqlalchemy import and_, select

from ...extensions import db
from ...notifications.models import Notification
from .. import messages
from ..models import Recipient
from . import Channel, InvalidAddress, Result, register, retry_after_seconds
from .http import check_url

log = logging.getLogger(__name__)
TTL_SECONDS = 86400  # a phone switched off for a day still hears of it
MAX_PAYLOAD_BYTES = 3000  # before encryption (API.md); push services take about 4 KB encrypted
MAX_SUBSCRIPTION_CHARS = 512  # the recipients.address column
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+={0,2}")
_SUBJECT = re.compile(r"(mailto:[^@\s]+@\S+|https://\S+)")


@lru_cache(maxsize=4)
def _vapid(private_key):
    if private_key.startswith("-----BEGIN"):
        return Vapid.from_pem(private_key.encode())
    return Vapid.from_string(private_key)  # base64url: raw (32 bytes) or DER


def vapid_key(config):
    """The server's VAPID key (py_vapid's Vapid) from VAPID_PRIVATE_KEY; ValueError when unreadable."""
    try:
        return _vapid((config.get("VAPID_PRIVATE_KEY") or "").strip())
    except (ValueError, TypeError, binascii.Error) as e:
        raise ValueError("VAPID_PRIVATE_KEY is not a P-256 private key (PEM, or base64url DER or raw)") from e


def public_key(config):
    """The VAPID public key as `PushManager.subscribe({applicationServerKey})` takes it: the
    uncompressed P-256 point, base64url without padding."""
    point = vapid_key(config).public_key.public_bytes(serialization.Encoding.X962,
                                                      serialization.PublicFormat.UncompressedPoint)
    return b64urlencode(point)


def vapid_subject(config):
    """VAPID_SUBJECT, else the app's https address, else a mailto: at PUBLIC_URL's host."""
    subject = config.get("VAPID_SUBJECT")
    if subject:
        return subject
    public_url = config.get("PUBLIC_URL") or ""
    if public_url.startswith("https://"):
        return public_url.rstrip("/")
    return f"mailto:stockbell@{urlsplit(public_url).hostname or 'localhost'}"


def _invalid(field, text):
    """InvalidAddress naming the subscription's field at fault (for the API's details)."""
    error = InvalidAddress(text)
    error.field = field
    return error


def _key_bytes(value, name):
    if not isinstance(value, str) or not _BASE64URL.fullmatch(value):
        raise _invalid("keys", f"keys.{name} must be base64url text.")
    value = value.rstrip("=")
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise _invalid("keys", f"keys.{name} must be base64url text.") from None


def read_subscription(value, config):
    """A subscription (the browser's `PushSubscription.toJSON()`, a dict or its JSON text) in
    its stored form, or InvalidAddress."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise _invalid("subscription", "A push subscription is JSON: {endpoint, keys: {p256dh, auth}}.") from None
    if not isinstance(value, dict) or set(value) - {"endpoint", "keys", "expirationTime"}:
        raise _invalid("subscription", "A push subscription is an object with endpoint and keys (and expirationTime).")
    endpoint, keys = value.get("endpoint"), value.get("keys")
    if not isinstance(endpoint, str) or not endpoint or not endpoint.isprintable() or " " in endpoint:
        raise _invalid("endpoint", "endpoint must be the push service's URL.")
    try:
        check_url(endpoint, config)
    except InvalidAddress as e:
        raise _invalid("endpoint", str(e)) from None
    expires = value.get("expirationTime")
    if expires is not None and (isinstance(expires, bool) or not isinstance(expires, (int, float))):
        raise _invalid("expirationTime", "expirationTime must be null or a number.")
    if not isinstance(keys, dict) or set(keys) != {"p256dh", "auth"}:
        raise _invalid("keys", "keys must be an object with p256dh and auth.")
    point = _key_bytes(keys["p256dh"], "p256dh")
    try:
        if len(point) != 65:
            raise ValueError
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    except ValueError:
        raise _invalid("keys", "keys.p256dh must be an uncompressed P-256 public key (65 bytes).") from None
    if len(_key_bytes(keys["auth"], "auth")) != 16:
        raise _invalid("keys", "keys.auth must be a 16-byte secret.")
    stored = json.dumps({"endpoint": endpoint, "keys": {"p256dh": keys["p256dh"].rstrip("="),
                                                         "auth": keys["auth"].rstrip("=")}}, separators=(",", ":"))
    if len(stored) > MAX_SUBSCRIPTION_CHARS:
        raise _invalid("endpoint", f"The subscription is too long (at most {MAX_SUBSCRIPTION_CHARS} characters).")
    return stored


def endpoint_host(stored):
    try:
        return urlsplit(json.loads(stored)["endpoint"]).hostname or ""
    except (ValueError, KeyError, TypeError):
        return ""


def urgency(notice):
    """RFC 8030's Urgency: "high" when the message holds a critical kind (the phone wakes for it)."""
    return "high" if any(item.kind_entry.priority == "critical" for item in notice.items) else "normal"


def _body(notice, public_url):
    if notice.items:
        return "\n".join(messages.one_line(item.headline) for item in notice.items)
    return messages.short_text(notice, public_url)


def _encoded(fields):
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode()


def payload(notice, public_url, notification_id=None):
    """The push's JSON, `{title, body, url, kind, level, notification_id}`, as bytes within
    MAX_PAYLOAD_BYTES: the body is cut (then the title) with an ellipsis when it is longer."""
    first = notice.items[0] if notice.items else None  # the most urgent (messages.ordered)
    fields = {"title": messages.one_line(notice.subject), "body": _body(notice, public_url),
              "url": notice.link(public_url), "kind": first.kind if first and notice.type == "alerts" else notice.type,
              "level": first.level if first else None, "notification_id": notification_id}
    data = _encoded(fields)
    while len(data) > MAX_PAYLOAD_BYTES:
        over = len(data) - MAX_PAYLOAD_BYTES
        key = next((k for k in ("body", "title") if len(fields[k]) > 1), None)
        if key is None:
            break
        text = fields[key].encode()  # cut in bytes (a JSON byte is at least one of the text's), then at a character
        fields[key] = text[:max(0, len(text) - over - 3)].decode(errors="ignore").rstrip() + "\u2026"
        data = _encoded(fields)
    return data


@register
class PushChannel(Channel):
    name = "push"
    label = "Web Push"
    field = None  # not on the shop's lists: a person adds their own devices
    personal = False  # not an address typed on My preferences: the browser subscribes
    status_words = {"sent": "accepted by the push service"}

    @classmethod
    def available(cls, config):
        try:
            vapid_key(config)
        except ValueError:
            return False, "The server's VAPID key cannot be read: ask your administrator."
        if not _SUBJECT.fullmatch(vapid_subject(config)):
            return False, "VAPID_SUBJECT must be a mailto: or https: address: ask your administrator."
        return True, None

    @classmethod
    def validate(cls, address, config):
        return read_subscription(address, config)

    @classmethod
    def parse(cls, stored):
        return json.loads(stored)

    @classmethod
    def display(cls, stored):
        return f"a browser via {endpoint_host(stored) or 'its push service'}"

    def send(self, outgoing):
        key, subject = vapid_key(self.config), vapid_subject(self.config)
        public_url = self.config.get("PUBLIC_URL", "")
        timeout = float(self.config.get("PUSH_TIMEOUT") or 10)
        notification_ids = bell_ids(outgoing, self.name)
        session = requests.Session()
        session.max_redirects = 0  # a push service answers itself; a redirect is refused, not followed
        with session:
            for message in outgoing:
                yield self._send_one(message, session, key, subject, timeout,
                                     payload(message.notice, public_url, notification_ids.get(message.ids[0])))

    def _send_one(self, message, session, key, subject, timeout, data):
        try:
            subscription = self.parse(message.recipient)
            check_url(subscription["endpoint"], self.config)  # again, resolved now
        except InvalidAddress as e:
            return Result.failed(message, str(e), retry=False)
        except (ValueError, KeyError, TypeError):
            return Result.failed(message, "The stored subscription cannot be read.", retry=False)
        try:
            response = webpush(subscription, data, vapid_private_key=key, vapid_claims={"sub": subject},
                               ttl=TTL_SECONDS, timeout=timeout, headers={"Urgency": urgency(message.notice)},
                               requests_session=session)
        except WebPushException as e:
            return refused(message, e)
        except requests.RequestException as e:
            log.warning("push delivery %s: %s", message.id, type(e).__name__)
            return Result.failed(message, f"The push service could not be reached ({type(e).__name__}).")
        return Result.sent(message, response.headers.get("Location"))


def refused(message, error):
    """The Result of a push service's refusal: 404/410 gone, 429/5xx retried, another 4xx dead."""
    status = error.status_code
    if status is None:
        log.warning("push delivery %s: %s", message.id, error.message)
        return Result.failed(message, "The subscription cannot be used (its keys are incomplete).", retry=False)
    log.info("push delivery %s answered %s", message.id, status)
    if status in (404, 410):
        return Result.failed(message, f"The browser's subscription has ended (HTTP {status}); it is removed.",
                             retry=False, gone=True)
    retry = status == 429 or status >= 500
    wait = retry_after_seconds(error.retry_after) if status in (429, 503) else None
    return Result.failed(message, f"The push service answered HTTP {status}.", retry=retry, retry_after=wait)


def bell_ids(outgoing, channel):
    """{first outbox row id: the recipient's bell notification id} for the messages that are one
    alert, so that a click on the push can open that notification. One query; read only."""
    wanted = [(m.ids[0], m.client_id, m.recipient, m.notice.log_id) for m in outgoing if m.notice.log_id]
    if not wanted:
        return {}
    rows = db.session.execute(
        select(Recipient.client_id, Recipient.address, Notification.alert_log_id, Notification.id)
        .join(Notification, and_(Notification.user_id == Recipient.user_id,
                                 Notification.client_id == Recipient.client_id))
        .where(Recipient.channel == channel, Recipient.user_id.is_not(None),
               Notification.alert_log_id.in_(sorted({w[3] for w in wanted})))).all()
    db.session.commit()  # end the read: nothing stays open while the push services answer
    found = {(c, a, log_id): n for c, a, log_id, n in rows}
    return {first: found[(c, a, log_id)] for first, c, a, log_id in wanted if (c, a, log_id) in found}
