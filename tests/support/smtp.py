"""A real SMTP server for tests and the benchmark: aiosmtpd on a local port, in its own thread,
recording every message it accepts and every connection opened. It can be stopped and started
again on the same port (an outage), and told to refuse some recipients."""
import email
import email.policy
import threading
from dataclasses import dataclass

from aiosmtpd.controller import Controller

from .postgres import free_port


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list
    message: email.message.EmailMessage
    raw: bytes = b""
    mail_options: tuple = ()

    @property
    def subject(self):
        return self.message["Subject"]

    def part(self, content_type):
        found = self.message.get_body(preferencelist=(content_type.split("/")[1],))
        return found.get_content() if found is not None else None


class _Handler:
    def __init__(self, server):
        self.server = server

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self.server.refuse.get(address.lower())
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.server.lock:
            self.server.count += 1
        if self.server.keep:
            message = email.message_from_bytes(envelope.content, policy=email.policy.default)
            with self.server.lock:
                self.server.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message,
                                                     envelope.original_content or b"", tuple(envelope.mail_options)))
        return "250 Message accepted for delivery"


class _CountingController(Controller):
    def __init__(self, server, **kwargs):
        super().__init__(_Handler(server), **kwargs)
        self.owner = server

    def factory(self):  # called once per connection
        with self.owner.lock:
            self.owner.connections += 1
        return super().factory()


class SmtpServer:
    def __init__(self, port=None, keep=True, smtputf8=False):
        self.port = port or free_port()
        self.smtputf8 = smtputf8  # offer SMTPUTF8 (RFC 6531) in the EHLO answer
        self.keep = keep  # parse and keep every message (tests); False only counts them (benchmark)
        self.lock = threading.Lock()
        self.received = []
        self.count = 0
        self.connections = 0
        self.refuse = {}  # address -> the reply to its RCPT TO, e.g. "550 5.1.1 No such user"
        self._controller = None

    @property
    def running(self):
        return self._controller is not None

    def start(self):
        if self._controller is None:
            self._controller = _CountingController(self, hostname="127.0.0.1", port=self.port,
                                                   enable_SMTPUTF8=self.smtputf8)
            self._controller.start()
            with self.lock:
                self.connections -= 1  # the controller's own readiness probe
        return self

    def stop(self):
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def messages(self, to=None):
        with self.lock:
            return [r for r in self.received if to is None or to in r.rcpt_tos]

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
