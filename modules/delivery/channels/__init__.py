"""The channels a message can leave by, behind one registry (the shape of Redash's destinations).
A channel is a class with `available(config)`, `validate(address)` and `send(messages)`; `send`
yields one `Result` per message as soon as it is known, and never raises for one message's
failure: the failure is that message's result."""
from dataclasses import dataclass

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
    recipient: str
    notice: object  # messages.Notice
    secret: str | None = None  # the webhook's signing key

    @property
    def id(self):
        return self.ids[0]


@dataclass(frozen=True)
class Result:
    message: Outgoing
    provider_id: str | None = None
    error: str | None = None
    retry: bool = True  # False: permanent (a bad address); do not try again

    @property
    def ok(self):
        return self.error is None

    @classmethod
    def sent(cls, message, provider_id=None):
        return cls(message, provider_id=str(provider_id)[:128] if provider_id else None)

    @classmethod
    def failed(cls, message, error, retry=True):
        return cls(message, error=str(error)[:1000] or "unknown error", retry=retry)


class Channel:
    """A way out of the app. Subclasses set the class attributes and implement `send`."""

    name = None
    label = None
    field = None  # the settings field holding the shop's addresses
    single = False  # the field is one address (a URL), not a list
    personal = False  # a person may add their own address on this channel
    coalesce = True  # a burst of alerts to one recipient goes as one message
    placeholder = ""

    def __init__(self, config):
        self.config = config

    @classmethod
    def available(cls, config):
        """(True, None), or (False, why) when the server lacks what this channel needs."""
        return True, None

    @classmethod
    def validate(cls, address, config):
        """The address in its stored form, or InvalidAddress."""
        raise NotImplementedError

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


from . import email, messaging, http  # noqa: E402,F401  (each registers itself)
