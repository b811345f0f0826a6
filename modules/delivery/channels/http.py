"""Channels that POST over HTTPS: Slack (an incoming-webhook URL; its text escaped as Slack's
mrkdwn wants), Telegram (the Bot API's sendMessage, plain text) and a signed webhook. Each honours
the provider's "wait": Retry-After, or Telegram's `parameters.retry_after`. Shop-given URLs must be https and must not reach this host's
own network (loopback, private, link-local) unless WEBHOOK_ALLOW_PRIVATE=1; they are checked when
saved and again, resolved, before every send, and redirects are never followed."""
import calendar
import hashlib
import hmac
import ipaddress
import json
import logging
import re
import socket
from urllib.parse import urlsplit

import requests

from ...timeutil import utcnow
from .. import messages
from . import Channel, InvalidAddress, Result, register, retry_after_seconds

log = logging.getLogger(__name__)


def _blocked(ip):
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return not ip.is_global


def check_url(url, config, resolve=True):
    """The URL as given, or InvalidAddress saying what is wrong with it."""
    allow_private = bool(config.get("WEBHOOK_ALLOW_PRIVATE"))
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise InvalidAddress(f"{url!r} is not a valid URL.") from None
    schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in schemes or not parts.hostname:
        raise InvalidAddress("The URL must start with https:// and name a host.")
    if parts.username or parts.password:
        raise InvalidAddress("The URL must not carry a user name or password.")
    if allow_private:
        return url
    host = parts.hostname
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        if host == "localhost" or host.endswith(".localhost"):
            raise InvalidAddress("The URL must not point at this server's own network.") from None
        addresses = []
        if resolve:
            try:
                infos = socket.getaddrinfo(host, port or 443, proto=socket.IPPROTO_TCP)
                addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
            except (socket.gaierror, UnicodeError, ValueError):
                addresses = []  # offline or unknown: sending will fail and retry, it cannot reach us
    if any(_blocked(ip) for ip in addresses):
        raise InvalidAddress("The URL must not point at a loopback, private or link-local address.")
    return url


def unix_seconds(now):
    return calendar.timegm(now.timetuple())


def wait_asked(response):
    """The seconds a 429 or 503 asks us to wait (its Retry-After), or None."""
    if response.status_code not in (429, 503):
        return None
    return retry_after_seconds(response.headers.get("Retry-After"))


class HttpChannel(Channel):
    timeout_key = "WEBHOOK_TIMEOUT"
    address_key = "url"
    address_label = "URL (https://...)"
    status_words = {"sent": "the server answered 2xx"}

    def post(self, message, url, body, headers):
        """The result of one POST: 2xx sent; 429, 5xx or no answer retried; another status dead."""
        try:
            check_url(url, self.config)  # again, resolved now: a name may point elsewhere since it was saved
        except InvalidAddress as e:
            return Result.failed(message, str(e), retry=False), None
        try:
            response = requests.post(url, data=body, headers={"Content-Type": "application/json", **headers},
                                     timeout=float(self.config.get(self.timeout_key) or 10), allow_redirects=False)
        except requests.RequestException as e:
            log.warning("%s delivery %s: %s", self.name, message.id, type(e).__name__)
            return Result.failed(message, f"The {self.label} server could not be reached ({type(e).__name__})."), None
        if 200 <= response.status_code < 300:
            return None, response
        retry = response.status_code == 429 or response.status_code >= 500
        log.info("%s delivery %s answered %s: %s", self.name, message.id, response.status_code, response.text[:300])
        return Result.failed(message, f"The {self.label} server answered HTTP {response.status_code}.", retry=retry,
                             retry_after=wait_asked(response)), None


@register
class SlackChannel(HttpChannel):
    name = "slack"
    label = "Slack"
    field = "slack_webhook_url"
    single = True
    placeholder = "https://hooks.slack.com/services/..."

    @classmethod
    def validate(cls, address, config):
        return check_url(address, config)

    def text(self, notice):
        """Slack reads `<...>` as a mention or a link: its three characters escaped, so that a
        product named `<!channel>` pings nobody and `<https://x|y>` is no disguised link."""
        return slack_escape(super().text(notice))

    def send(self, outgoing):
        for message in outgoing:
            failed, _ = self.post(message, message.recipient, json.dumps({"text": self.text(message.notice)}), {})
            yield failed or Result.sent(message)


def slack_escape(text):
    """Slack's escaping of message text: &, < and > (https://api.slack.com/reference/surfaces/formatting)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_CHAT_ID = re.compile(r"-?\d{1,20}|@[A-Za-z][A-Za-z0-9_]{4,31}")


@register
class TelegramChannel(HttpChannel):
    name = "telegram"
    label = "Telegram"
    field = "telegram_chat_ids"
    placeholder = "one chat id per line, e.g. -1001234567890 or @mychannel"
    address_key = "chat_id"
    address_label = "chat id"
    status_words = {"sent": "accepted by Telegram"}

    @classmethod
    def available(cls, config):
        if not config.get("TELEGRAM_BOT_TOKEN"):
            return False, "Telegram is not configured on this server: ask your administrator."
        return True, None

    @classmethod
    def validate(cls, address, config):
        address = address.strip()
        if not _CHAT_ID.fullmatch(address):
            raise InvalidAddress(f"{address!r} is not a Telegram chat id (a number such as -1001234567890, "
                                 "or @channelname).")
        return address

    def send(self, outgoing):
        token = self.config.get("TELEGRAM_BOT_TOKEN")
        base = (self.config.get("TELEGRAM_API_BASE") or "https://api.telegram.org").rstrip("/")
        for message in outgoing:
            # Plain text: no parse_mode, so nothing in a name is read as markup.
            body = json.dumps({"chat_id": message.recipient, "text": self.text(message.notice),
                               "disable_web_page_preview": True})
            try:
                response = requests.post(f"{base}/bot{token}/sendMessage", data=body,
                                         headers={"Content-Type": "application/json"},
                                         timeout=float(self.config.get(self.timeout_key) or 10),
                                         allow_redirects=False)
            except requests.RequestException as e:  # its text would hold the URL, and the URL the token
                log.warning("telegram delivery %s: %s", message.id, type(e).__name__)
                yield Result.failed(message, f"Telegram could not be reached ({type(e).__name__}).")
                continue
            yield self._result(message, response)

    @staticmethod
    def _result(message, response):
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        if not isinstance(answer, dict):
            answer = {}
        if 200 <= response.status_code < 300 and answer.get("ok"):
            return Result.sent(message, (answer.get("result") or {}).get("message_id"))
        description = str(answer.get("description") or f"HTTP {response.status_code}")[:200]
        retry = response.status_code == 429 or response.status_code >= 500
        parameters = answer.get("parameters")
        wait = parameters.get("retry_after") if isinstance(parameters, dict) else None
        wait = retry_after_seconds(wait) if wait is not None else wait_asked(response)
        return Result.failed(message, f"Telegram refused the message: {description}", retry=retry, retry_after=wait)


def signature(secret, timestamp, body):
    """The X-Stockbell-Signature value: HMAC-SHA256 over "<timestamp>.<raw body>"."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def webhook_event(message):
    """The JSON a webhook receives for one message (API.md, "Webhook channel")."""
    notice = message.notice
    item = notice.items[0] if notice.type == "alerts" and len(notice.items) == 1 else None
    product = None
    if item is not None:
        product = {"id": item.product_id, "name": item.product, "sku": item.sku, "stock": item.stock,
                   "threshold": item.threshold, "category": item.category}
    event = {"id": message.id, "kind": item.kind_entry.event if item else notice.type,
             "shop": {"id": notice.shop_id, "name": notice.shop},
             "product": product, "message": item.headline if item else messages.one_line(notice.subject),
             "created_at": notice.created_at}
    if item is not None:  # an alert's place (every shop), and where stock could come from
        event["location"] = item.location
        if item.suggestion:
            event["suggestion"] = item.suggestion
    return event


@register
class WebhookChannel(HttpChannel):
    name = "webhook"
    label = "Webhook"
    field = "webhook_url"
    single = True
    coalesce = False  # a program wants one event per alert
    signed = True
    placeholder = "https://example.com/stockbell-events"

    @classmethod
    def validate(cls, address, config):
        return check_url(address, config)

    def send(self, outgoing):
        for message in outgoing:
            if not message.secret:
                yield Result.failed(message, "The webhook has no signing secret; save the settings again.", retry=False)
                continue
            body = json.dumps(webhook_event(message), separators=(",", ":")).encode()
            timestamp = str(unix_seconds(utcnow()))
            headers = {"X-Stockbell-Timestamp": timestamp,
                       "X-Stockbell-Signature": signature(message.secret, timestamp, body)}
            failed, _ = self.post(message, message.recipient, body, headers)
            yield failed or Result.sent(message)
