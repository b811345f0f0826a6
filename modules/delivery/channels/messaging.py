"""WhatsApp and SMS through the Twilio SDK (Programmable Messaging: `messages.create`)."""
import json
import logging

import requests
from twilio.base.exceptions import TwilioException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from . import Channel, Result, register

log = logging.getLogger(__name__)
TWILIO_BASE = "https://api.twilio.com"


class BaseUrlHttpClient(TwilioHttpClient):
    """The SDK's HTTP client, sending to another base URL (a proxy, a local test double):
    the SDK has no option of its own for that."""

    def __init__(self, base_url, **kwargs):
        super().__init__(**kwargs)
        self.base_url = base_url.rstrip("/")

    def request(self, method, url, *args, **kwargs):
        if url.startswith(TWILIO_BASE):
            url = self.base_url + url[len(TWILIO_BASE):]
        return super().request(method, url, *args, **kwargs)


def twilio_client(config):
    timeout = float(config["TWILIO_TIMEOUT"])
    base = (config.get("TWILIO_API_BASE") or TWILIO_BASE).rstrip("/")
    http = TwilioHttpClient(timeout=timeout) if base == TWILIO_BASE else BaseUrlHttpClient(base, timeout=timeout)
    return Client(config["TWILIO_ACCOUNT_SID"], config["TWILIO_AUTH_TOKEN"], http_client=http)


def retryable(status):
    """Twilio's 429 (rate limit) and 5xx pass; 401 is our credentials, fixable without losing the
    message. Any other 4xx (a bad or unreachable number, say) will fail the same way again."""
    return status is None or status in (401, 429) or status >= 500


def describe(error):
    status, code = getattr(error, "status", None), getattr(error, "code", None)
    text = getattr(error, "msg", None) or getattr(error, "detail", None) or getattr(error, "title", None) or error
    return f"Twilio {status}" + (f" (error {code})" if code and code != status else "") + f": {text}"


class TwilioChannel(Channel):
    from_key = None

    def address(self, number):
        return number

    def content(self, delivery):
        return {"body": delivery.body}

    def send(self, deliveries):
        missing = [k for k in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", self.from_key) if not self.config.get(k)]
        if missing:
            error = "Twilio is not configured: set " + ", ".join(missing)
            return [Result.failed(d, error) for d in deliveries]
        client = twilio_client(self.config)
        results = []
        for delivery in deliveries:
            try:
                message = client.messages.create(to=self.address(delivery.recipient),
                                                 from_=self.address(self.config[self.from_key]),
                                                 **self.content(delivery))
                results.append(Result.sent(delivery, message.sid))
            except TwilioException as e:
                results.append(Result.failed(delivery, describe(e), retry=retryable(getattr(e, "status", None))))
            except requests.RequestException as e:
                # Twilio unreachable: the rest of the batch would only wait out the same timeout.
                error = f"{type(e).__name__}: {e}"
                log.warning("Twilio unavailable: %s", error)
                results += [Result.failed(d, error) for d in deliveries[len(results):]]
                break
        return results


@register
class WhatsAppChannel(TwilioChannel):
    name = "whatsapp"
    from_key = "TWILIO_WHATSAPP_FROM"

    def address(self, number):
        return number if number.startswith("whatsapp:") else f"whatsapp:{number}"

    def content(self, delivery):
        # Outside a 24-hour session WhatsApp takes only approved templates.
        content_sid = self.config.get("TWILIO_WHATSAPP_CONTENT_SID")
        if content_sid:
            return {"content_sid": content_sid, "content_variables": json.dumps(delivery.variables)}
        return {"body": delivery.body}


@register
class SmsChannel(TwilioChannel):
    name = "sms"
    from_key = "TWILIO_SMS_FROM"
