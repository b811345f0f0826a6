"""The channels a message can leave by, behind one registry (the shape of Redash's destinations):
each channel's `send(deliveries)` sends a batch and returns one `Result` per delivery, in order,
and never raises for a failed message: the failure is the result."""
from dataclasses import dataclass, field

_registry = {}


@dataclass(frozen=True)
class Outgoing:
    """One claimed delivery, as a channel needs it (plain data: no session, no ORM)."""

    id: int
    client_id: int
    alert_log_id: int | None
    channel: str
    recipient: str
    subject: str
    body: str
    html_body: str | None
    attempts: int
    variables: dict = field(default_factory=dict)  # WhatsApp template variables, when used


@dataclass(frozen=True)
class Result:
    delivery_id: int
    provider_id: str | None = None
    error: str | None = None
    retry: bool = True  # False: a permanent error (bad address or number); do not try again

    @property
    def ok(self):
        return self.error is None

    @classmethod
    def sent(cls, delivery, provider_id):
        return cls(delivery.id, provider_id=str(provider_id)[:128] if provider_id else None)

    @classmethod
    def failed(cls, delivery, error, retry=True):
        return cls(delivery.id, error=str(error)[:1000] or "unknown error", retry=retry)


class Channel:
    """A way out of the app. Subclasses set `name` and implement `send`."""

    name = None

    def __init__(self, config):
        self.config = config

    def send(self, deliveries):  # pragma: no cover - abstract
        raise NotImplementedError


def register(channel_class):
    _registry[channel_class.name] = channel_class
    return channel_class


def get_channel(name, config):
    """A channel instance for one batch, configured from the app's config."""
    return _registry[name](config)


def names():
    return tuple(_registry)


from . import email, messaging  # noqa: E402,F401  (each registers itself)
