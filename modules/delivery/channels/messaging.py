"""WhatsApp and SMS through the Twilio SDK (Programmable Messaging: `messages.create`), with
Twilio's status callbacks as their receipts and its Retry-After honoured."""
import json
import logging

import phonenumbers
import requests
from twilio.base.exceptions import TwilioException
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from .. import messages
from ...errors import ApiError
from . import Channel, InvalidAddress, Receipt, Result, register, retry_after_seconds

log = logging.getLogger(__name__)
TWILIO_BASE = "https://api.twilio.com"
STATUS_CALLBACK_PATH = "/api/deliveries/twilio-status"


class BaseUrlHttpClient(TwilioHttpClient):
    """The SDK's HTTP client, sending to another base URL when given (a proxy, a local test
    double: the SDK has no option of its own for that), and keeping the last answer's headers
    (the SDK's exception carries no Retry-After)."""

    def __init__(self, base_url=TWILIO_BASE, **kwargs):
        super().__init__(**kwargs)
        self.base_url = base_url.rstrip("/")
        self.last_headers = {}

    def request(self, method, url, *args, **kwargs):
        if url.startswith(TWILIO_BASE):
            url = self.base_url + url[len(TWILIO_BASE):]
        self.last_headers = {}
        response = super().request(method, url, *args, **kwargs)
        self.last_headers = response.headers or {}
        return response


def twilio_client(config):
    timeout = float(config["TWILIO_TIMEOUT"])
    base = (config.get("TWILIO_API_BASE") or TWILIO_BASE).rstrip("/")
    return Client(config["TWILIO_ACCOUNT_SID"], config["TWILIO_AUTH_TOKEN"],
                  http_client=BaseUrlHttpClient(base, timeout=timeout))


def retryable(status):
    """Twilio's 429 (rate limit) and 5xx pass; 401 is our credentials, fixable without losing the
    message. Any other 4xx (a bad or unreachable number, say) will fail the same way again."""
    return status is None or status in (401, 429) or status >= 500


def describe(error):
    """The shop owner's sentence for a refused request; the raw one goes to the log."""
    status, code = getattr(error, "status", None), getattr(error, "code", None)
    text = getattr(error, "msg", None) or getattr(error, "detail", None) or getattr(error, "title", None) or error
    log.info("Twilio refused a message: %s (error %s): %s", status, code, text)
    if code in ERROR_TEXTS:
        return f"{ERROR_TEXTS[code]} (Twilio error {code})"
    if status == 401:
        return "Twilio refused this server's credentials: ask your administrator."
    return f"Twilio refused the message (HTTP {status}" + (f", error {code}" if code and code != status else "") + ")."


def read_number(address):
    """An E.164 number, or InvalidAddress."""
    try:
        number = phonenumbers.parse(address.removeprefix("whatsapp:"), None)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise InvalidAddress(f"{address!r} is not a valid phone number in E.164 form (e.g. +14155550123).")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# Twilio error codes a shop owner can act on, in their words.
ERROR_TEXTS = {
    21211: "The number is not a valid phone number.",
    21408: "Twilio may not send to this region from this account.",
    21610: "The recipient replied STOP: nothing more is sent to this number until it is entered again.",
    21614: "The number cannot receive SMS (not a mobile number).",
    30003: "The phone is unreachable (switched off or out of coverage).",
    30005: "The number is unknown or no longer in service.",
    30006: "The number is a landline or cannot receive messages.",
    30007: "The carrier filtered the message as spam.",
    63016: "WhatsApp delivers free-form messages only inside a 24-hour session; the server needs an approved "
           "template (TWILIO_WHATSAPP_CONTENT_SID) to write first.",
}


DELIVERED = {"delivered", "read"}
UNDELIVERED = {"undelivered", "failed"}
STOPPED = "21610"  # the recipient replied STOP


def _error_code(raw):
    raw = (raw or "").strip()
    return raw if raw.isdigit() and len(raw) <= 10 else None


def read_status_callback(form):
    """A Receipt from Twilio's status callback fields (MessageSid, MessageStatus, ErrorCode)."""
    sid, raw = form.get("MessageSid", "")[:128], form.get("MessageStatus", "")[:32].lower()
    code = _error_code(form.get("ErrorCode"))
    status = "delivered" if raw in DELIVERED else "undelivered" if raw in UNDELIVERED else None
    error = None
    if status == "undelivered":
        text = ERROR_TEXTS.get(int(code), "The message could not be delivered.") if code else \
            "The message could not be delivered."
        error = f"{text} (Twilio error {code})" if code else text
    return Receipt(sid, status, raw, error, opt_out=code == STOPPED)


class TwilioChannel(Channel):
    from_key = None
    personal = True
    placeholder = "one number per line, as +14155550123"
    receipt_path = STATUS_CALLBACK_PATH
    status_words = {"sent": "accepted by Twilio", "delivered": "delivered to the phone (Twilio's receipt)",
                    "undelivered": "Twilio could not deliver it"}

    @classmethod
    def read_receipt(cls, request, config):
        """Twilio's status callback, signed with the account's auth token over PUBLIC_URL + path."""
        token = config.get("TWILIO_AUTH_TOKEN")
        url = config["PUBLIC_URL"].rstrip("/") + STATUS_CALLBACK_PATH
        signature = request.headers.get("X-Twilio-Signature", "")
        if not token or not signature or not RequestValidator(token).validate(url, request.form.to_dict(), signature):
            log.warning("Twilio status callback with a bad signature from %s", request.remote_addr)
            raise ApiError(403, "The signature is not valid.")
        receipt = read_status_callback(request.form)
        return receipt if receipt.provider_id else None

    @classmethod
    def available(cls, config):
        missing = [k for k in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", cls.from_key) if not config.get(k)]
        if missing:
            return False, "Twilio is not configured on this server: ask your administrator."
        return True, None

    @classmethod
    def validate(cls, address, config):
        return read_number(address)

    def address(self, number):
        return number

    def content(self, message):
        return {"body": self.text(message.notice)}

    def send(self, outgoing):
        client = twilio_client(self.config)
        callback = self.config.get("PUBLIC_URL", "").rstrip("/") + STATUS_CALLBACK_PATH
        for n, message in enumerate(outgoing):
            try:
                sent = client.messages.create(to=self.address(message.recipient),
                                              from_=self.address(self.config[self.from_key]),
                                              status_callback=callback, **self.content(message))
                yield Result.sent(message, sent.sid)
            except TwilioException as e:
                status = getattr(e, "status", None)
                wait = retry_after_seconds(client.http_client.last_headers.get("Retry-After")) \
                    if status in (429, 503) else None
                yield Result.failed(message, describe(e), retry=retryable(status), retry_after=wait)
            except requests.RequestException as e:
                # Twilio unreachable: the rest of the batch would only wait out the same timeout.
                log.warning("Twilio unavailable: %s: %s", type(e).__name__, e)
                for rest in outgoing[n:]:
                    yield Result.failed(rest, "Twilio could not be reached; the message will be tried again.")
                return


@register
class WhatsAppChannel(TwilioChannel):
    name = "whatsapp"
    label = "WhatsApp"
    field = "whatsapp_numbers"
    from_key = "TWILIO_WHATSAPP_FROM"

    @classmethod
    def note(cls, config):
        if cls.available(config)[0] and not config.get("TWILIO_WHATSAPP_CONTENT_SID"):
            return ("Only inside a 24-hour session: WhatsApp delivers alerts only to people who wrote to the shop's "
                    "number in the last 24 hours (the server has no approved template).")
        return None

    def address(self, number):
        return number if number.startswith("whatsapp:") else f"whatsapp:{number}"

    def content(self, message):
        # Outside a 24-hour session WhatsApp takes only approved templates.
        content_sid = self.config.get("TWILIO_WHATSAPP_CONTENT_SID")
        if content_sid:
            notice = message.notice
            if notice.type == "alerts" and len(notice.items) == 1:
                item = notice.items[0]
                variables = {"1": item.product, "2": str(item.stock), "3": notice.shop}
            else:
                variables = {"1": messages.one_line(notice.subject), "2": "-", "3": notice.shop}
            return {"content_sid": content_sid, "content_variables": json.dumps(variables)}
        return super().content(message)


@register
class SmsChannel(TwilioChannel):
    name = "sms"
    label = "SMS"
    field = "sms_numbers"
    from_key = "TWILIO_SMS_FROM"
