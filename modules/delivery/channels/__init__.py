"""The channels a message can leave by, behind one registry (the shape of Redash's destinations).
A channel is a class that owns everything about its channel: `available(config)`, how it
validates and stores a recipient (`validate`, `parse`, `display`: an address may be structured,
stored as text), its text format and escaping, how it reads a provider's "wait" (a Result's
`retry_after`), its receipts, and its words for the pages. `send` yields one `Result` per message
as soon as it is known, and never raises for one message's failure: the failure is that
message's result. Shared delivery code names no channel: it asks the class."""
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

from .. import messages

_registry = {}


class InvalidAddress(ValueError):
    """An address a channel cannot send to; the text says why, for the shop owner."""


@dataclass(frozen=True)
class Outgoing:
    """One message to send (plain data: no session, no ORM): the outbox rows it carries (several
    when a burst of alerts goes as one), to one recipient on one channel, and what it says."""

    ids: tuple
    client_id: int
    channel: str
    recipient: str  # the stored form; the channel's parse() reads a structured one
    notice: object  # messages.Notice
    secret: str | None = None  # the recipient's signing key, on a channel that signs

    @property
    def id(self):
        return self.ids[0]


@dataclass(frozen=True)
class Result:
    message: Outgoing
    provider_id: str | None = None
    error: str | None = None
    retry: bool = True  # False: permanent (a bad address); do not try again
    retry_after: float | None = None  # the provider asked to wait this many seconds
    gone: bool = False  # the recipient no longer exists at the provider (remove it)

    @property
    def ok(self):
        return self.error is None

    @classmethod
    def sent(cls, message, provider_id=None):
        return cls(message, provider_id=str(provider_id)[:128] if provider_id else None)

    @classmethod
    def failed(cls, message, error, retry=True, retry_after=None, gone=False):
        return cls(message, error=str(error)[:1000] or "unknown error", retry=retry,
                   retry_after=retry_after, gone=gone)


@dataclass(frozen=True)
class Receipt:
    """A provider's word on a message it accepted, in shared terms: `status` "delivered",
    "undelivered" or None (an intermediate state such as "queued"), the provider's own status,
    the shop owner's sentence on a failure, and whether the recipient asked to hear no more."""

    provider_id: str
    status: str | None
    provider_status: str
    error: str | None = None
    opt_out: bool = False


def retry_after_seconds(value, now=None):
    """Seconds to wait from an HTTP Retry-After value (delta-seconds or an HTTP-date), or None."""
    if value is None:
        return None
    value = str(value).strip()
    if value.isdigit():
        return float(min(int(value), 86400))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    now = now or datetime.now(timezone.utc)
    return max(0.0, min((when - now).total_seconds(), 86400.0))


class Channel:
    """A way out of the app. Subclasses set the class attributes and implement `send`."""

    name = None
    label = None
    field = None  # the settings field holding the shop's addresses (None: not on the shop's lists)
    single = False  # the field is one address (a URL), not a list
    personal = False  # a person may add their own address on this channel
    coalesce = True  # a burst of alerts to one recipient goes as one message
    carries_orders = False  # purchase orders to suppliers leave by this channel
    signed = False  # each shop-level recipient gets a signing secret (shown once)
    placeholder = ""
    address_key = "number"  # a person's address in preferences: {"enabled", <address_key>, "mode"}
    address_label = "number (as +14155550123)"
    receipt_path = None  # where the provider posts its receipts (None: it gives none)
    # The deliveries page's words for a status on this channel.
    status_words = {"sent": "accepted by the provider", "delivered": "delivered to the recipient",
                    "undelivered": "the provider could not deliver it"}

    def __init__(self, config):
        self.config = config

    @classmethod
    def available(cls, config):
        """(True, None), or (False, why) when the server lacks what this channel needs."""
        return True, None

    @classmethod
    def note(cls, config):
        """A sentence the settings page shows beside the channel when it works with a limit, or None."""
        return None

    @classmethod
    def validate(cls, address, config):
        """The address in its stored form (text; JSON for a structured one), or InvalidAddress."""
        raise NotImplementedError

    @classmethod
    def parse(cls, stored):
        """The address as the channel sends to it, from its stored form."""
        return stored

    @classmethod
    def display(cls, stored):
        """The address as a person reads it on the deliveries page."""
        return stored

    @classmethod
    def warnings(cls, addresses):
        """Sentences to show after saving these addresses (they work, with a catch)."""
        return []

    @classmethod
    def read_receipt(cls, request, config):
        """The Receipt in a provider's request to `receipt_path`, or None to ignore it; raises
        ApiError (403) when the request is not the provider's."""
        return None

    def text(self, notice):
        """The message as this channel's text: one short line, in its format and escaping."""
        return messages.short_text(notice, self.config.get("PUBLIC_URL", ""))

    def send(self, messages):  # pragma: no cover - abstract
        raise NotImplementedError


def register(channel_class):
    _registry[channel_class.name] = channel_class
    return channel_class


def get_channel(name, config):
    """A channel instance for one batch, configured from the app's config."""
    return _registry[name](config)


def channel_class(name):
    return _registry[name]


def names():
    return tuple(_registry)


def all_channels():
    return tuple(_registry.values())


from . import email, messaging, http, push  # noqa: E402,F401  (each registers itself)
