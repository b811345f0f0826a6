"""Email through Flask-Mail: every due row of a batch over one SMTP connection, with a timeout."""
import logging
import smtplib
from email.utils import make_msgid
from urllib.parse import urlsplit

from flask import current_app
from flask_mail import BadHeaderError, Connection, Message

from . import Channel, Result, register

log = logging.getLogger(__name__)


class TimedConnection(Connection):
    """Flask-Mail 0.10's Connection.configure_host opens `smtplib.SMTP(server, port)` without a
    timeout, so a server that accepts and then hangs would freeze the dispatcher. The same steps
    with MAIL_TIMEOUT on the socket (connect, greeting and every command after)."""

    def __init__(self, mail, timeout):
        super().__init__(mail)
        self.timeout = timeout

    def configure_host(self):
        mail = self.mail
        smtp_class = smtplib.SMTP_SSL if mail.use_ssl else smtplib.SMTP
        host = smtp_class(mail.server, mail.port, timeout=self.timeout)
        try:
            host.set_debuglevel(int(mail.debug))
            if mail.use_tls:
                host.starttls()
            if mail.username and mail.password:
                host.login(mail.username, mail.password)
        except BaseException:
            host.close()
            raise
        return host


def connect(timeout):
    """What `mail.connect()` returns, with the timeout set; use as a context manager."""
    return TimedConnection(current_app.extensions["mail"], timeout)


def _text(value):
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def describe(error):
    if isinstance(error, smtplib.SMTPResponseException):
        return f"SMTP {error.smtp_code}: {_text(error.smtp_error)}"
    return f"{type(error).__name__}: {error}"


@register
class EmailChannel(Channel):
    name = "email"

    def send(self, deliveries):
        results = []
        domain = urlsplit(self.config.get("PUBLIC_URL", "")).hostname or "stockbell.localhost"
        try:
            with connect(self.config.get("MAIL_TIMEOUT", 10)) as connection:
                for delivery in deliveries:
                    results.append(self._send_one(connection, delivery, domain))
        except (smtplib.SMTPException, OSError) as e:
            # Connecting failed or the connection broke; QUIT then fails too, so name the first cause.
            cause = e.__context__ if isinstance(e.__context__, (smtplib.SMTPException, OSError)) else e
            if len(results) < len(deliveries):
                mail = current_app.extensions["mail"]
                log.warning("SMTP %s:%s unavailable: %s", mail.server, mail.port, describe(cause))
            results += [Result.failed(d, describe(cause)) for d in deliveries[len(results):]]
        return results

    @staticmethod
    def _send_one(connection, delivery, domain):
        """Send one message; a refusal of this message is its result, while a broken connection
        (disconnected, timed out, reset) is raised and ends the batch."""
        message = Message(subject=delivery.subject, recipients=[delivery.recipient], body=delivery.body,
                          html=delivery.html_body)
        message.msgId = make_msgid(domain=domain)  # not socket.getfqdn(): no DNS look-up per message
        try:
            connection.send(message)
        except smtplib.SMTPRecipientsRefused as e:
            code, text = next(iter(e.recipients.values()))
            return Result.failed(delivery, f"SMTP {code}: {_text(text)}", retry=code < 500)
        except smtplib.SMTPSenderRefused as e:  # our own MAIL FROM: configuration, worth a retry
            return Result.failed(delivery, describe(e))
        except smtplib.SMTPResponseException as e:
            return Result.failed(delivery, describe(e), retry=e.smtp_code < 500)
        except BadHeaderError as e:
            return Result.failed(delivery, f"bad header: {e}", retry=False)
        return Result.sent(delivery, message.msgId)
