"""Email through Flask-Mail's connection (its settings, one SMTP connection per batch, with a
timeout), each message built here by the standards: quoted-printable bodies, RFC 2047 subjects
folded on character boundaries, IDNA domains, SMTPUTF8 for non-ASCII mailboxes when the server
offers it, Auto-Submitted and a one-click List-Unsubscribe. One message's failure is its own."""
import csv
import io
import logging
import smtplib
from email import charset as email_charset
from email import policy
from email.header import Header
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formatdate, make_msgid, parseaddr
from urllib.parse import urlsplit

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from flask_mail import Connection

from .. import messages
from ..tokens import unsubscribe_token
from . import Channel, InvalidAddress, Result, register

log = logging.getLogger(__name__)
_QP = email_charset.Charset("utf-8")
_QP.body_encoding = email_charset.QP  # lines stay short whatever the text (no 8bit line over 998 bytes)
_ASCII_POLICY = policy.compat32.clone(linesep="\r\n")  # compat32 keeps email.header.Header's folding


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
            host.ehlo_or_helo_if_needed()
        except BaseException:
            host.close()
            raise
        return host


def _text(value):
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def describe(error):
    if isinstance(error, smtplib.SMTPResponseException):
        return f"SMTP {error.smtp_code}: {_text(error.smtp_error)}"
    return f"{type(error).__name__}: {error}"


def envelope_address(address):
    """(address for RCPT TO, needs SMTPUTF8): the domain IDNA-encoded; the local part as is."""
    checked = validate_email(address, check_deliverability=False)
    if checked.ascii_email:
        return checked.ascii_email, False
    return f"{checked.local_part}@{checked.ascii_domain}", True


def unreachable(error):
    """The shop owner's sentence for a mail server we could not talk to (the raw error is logged)."""
    if isinstance(error, TimeoutError) or isinstance(error.__context__, TimeoutError):  # smtplib wraps it
        return "The mail server did not answer in time (timed out); the message will be tried again."
    return "The mail server could not be reached; the message will be tried again."


class Broken(Exception):
    """The connection is gone; the message in hand was not accepted."""


@register
class EmailChannel(Channel):
    name = "email"
    label = "Email"
    field = "email_recipients"
    personal = True
    placeholder = "one address per line"
    address_key = "address"
    address_label = "address"
    status_words = {"sent": "accepted by the mail server"}
    carries_orders = True

    @classmethod
    def available(cls, config):
        if not config.get("MAIL_SERVER"):
            return False, "No mail server is configured on this server (MAIL_SERVER)."
        return True, None

    @classmethod
    def validate(cls, address, config):
        try:
            return validate_email(address, check_deliverability=False).normalized
        except EmailNotValidError as e:
            raise InvalidAddress(f"{address!r} is not a valid email address: {e}") from None

    @staticmethod
    def needs_smtputf8(address):
        try:
            return envelope_address(address)[1]
        except EmailNotValidError:
            return False

    @classmethod
    def warnings(cls, addresses):
        return [f"{address} has characters outside ASCII before the @: it reaches only mail servers that accept "
                "international addresses (SMTPUTF8); if the mail server does not, its messages fail."
                for address in addresses if cls.needs_smtputf8(address)]

    def sender(self):
        public = urlsplit(self.config.get("PUBLIC_URL") or "")
        configured = self.config.get("MAIL_DEFAULT_SENDER")
        if isinstance(configured, (tuple, list)):
            configured = f"{configured[0]} <{configured[1]}>"
        return configured or f"Stockbell <stockbell@{public.hostname or 'localhost'}>"

    def send(self, outgoing):
        mail = current_app.extensions["mail"]
        sender = self.sender()
        envelope_from = parseaddr(sender)[1]
        domain = urlsplit(self.config.get("PUBLIC_URL", "")).hostname or "stockbell.localhost"
        connection = None
        try:
            for n, message in enumerate(outgoing):
                if connection is None:
                    try:
                        connection = TimedConnection(mail, self.config.get("MAIL_TIMEOUT", 10)).__enter__()
                    except (smtplib.SMTPException, OSError) as e:
                        log.warning("SMTP %s:%s unavailable: %s", mail.server, mail.port, describe(e))
                        for rest in outgoing[n:]:
                            yield Result.failed(rest, unreachable(e))
                        return
                try:
                    yield self._send_one(connection.host, message, sender, envelope_from, domain)
                except Broken as e:
                    log.warning("SMTP %s:%s: %s", mail.server, mail.port, e.__cause__ and describe(e.__cause__))
                    yield Result.failed(message, str(e))
                    self._close(connection)
                    connection = None
        finally:
            if connection is not None:
                self._close(connection)

    @staticmethod
    def _close(connection):
        try:
            connection.__exit__(None, None, None)
        except (smtplib.SMTPException, OSError):
            pass

    def _send_one(self, host, message, sender, envelope_from, domain):
        """This message's result; raises Broken when the connection is gone."""
        try:
            rcpt, utf8 = envelope_address(message.recipient)
        except EmailNotValidError as e:
            return Result.failed(message, f"The address is not valid: {e}", retry=False)
        if utf8 and not host.has_extn("smtputf8"):
            return Result.failed(message, "The mail server does not accept addresses with non-ASCII characters "
                                          "(no SMTPUTF8); use another address.", retry=False)
        try:
            message_id = make_msgid(domain=domain)  # not socket.getfqdn(): no DNS look-up per message
            data = self.build(message, sender, rcpt, message_id, utf8)
        except Exception as e:  # noqa: BLE001 - whatever breaks building one message is that message's
            log.exception("could not build email delivery %s", message.id)
            return Result.failed(message, f"The message could not be built ({type(e).__name__}).", retry=False)
        try:
            host.sendmail(envelope_from, [rcpt], data, mail_options=["SMTPUTF8"] if utf8 else [])
        except smtplib.SMTPRecipientsRefused as e:
            code, text = next(iter(e.recipients.values()))
            return Result.failed(message, f"The mail server refused the address (SMTP {code}: {_text(text)}).",
                                 retry=code < 500)
        except smtplib.SMTPSenderRefused as e:  # our own MAIL FROM: configuration, worth a retry
            return Result.failed(message, f"The mail server refused our sender address ({describe(e)}).")
        except smtplib.SMTPServerDisconnected as e:
            raise Broken("The mail server closed the connection; the message will be tried again.") from e
        except smtplib.SMTPResponseException as e:
            self._reset(host)
            return Result.failed(message, f"The mail server refused the message ({describe(e)}).",
                                 retry=e.smtp_code < 500)
        except (smtplib.SMTPException, OSError) as e:
            raise Broken("The connection to the mail server failed; the message will be tried again.") from e
        except Exception as e:  # noqa: BLE001 - e.g. an encoding smtplib refuses: this message only
            log.exception("email delivery %s failed", message.id)
            self._reset(host)
            return Result.failed(message, f"The message could not be sent ({type(e).__name__}).", retry=False)
        return Result.sent(message, message_id)

    @staticmethod
    def _reset(host):
        try:
            host.rset()
        except (smtplib.SMTPException, OSError) as e:
            raise Broken("The connection to the mail server failed; the message will be tried again.") from e

    def build(self, message, sender, rcpt, message_id, utf8):
        notice = message.notice
        if notice.type == "purchase_order":
            return self.build_order(notice, sender, rcpt, message_id, utf8)
        public_url = self.config.get("PUBLIC_URL", "")
        unsubscribe = unsubscribe_url(public_url, message.client_id, message.recipient)
        text, html = messages.email_bodies(notice, public_url, message.recipient, unsubscribe)
        mime = MIMEMultipart("alternative")
        subject = messages.one_line(notice.subject)
        mime["Subject"] = subject if utf8 else Header(subject, "utf-8")
        mime["From"] = sender
        mime["To"] = rcpt
        mime["Date"] = formatdate(usegmt=True)
        mime["Message-ID"] = message_id
        mime["Auto-Submitted"] = "auto-generated"
        mime["X-Auto-Response-Suppress"] = "All"
        mime["List-Unsubscribe"] = f"<{unsubscribe}>"
        mime["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        mime.attach(MIMEText(text, "plain", _QP))
        mime.attach(MIMEText(html, "html", _QP))
        return mime.as_bytes(policy=policy.SMTPUTF8 if utf8 else _ASCII_POLICY)


    @staticmethod
    def build_order(notice, sender, rcpt, message_id, utf8):
        """A purchase order to its supplier: the order as a table (HTML and text) and as
        `<number>.csv`; replies go to the person who sent it. Not an automatic alert: no
        Auto-Submitted and no unsubscribe link."""
        order = notice.order
        env = current_app.jinja_env
        context = {"notice": notice, "order": order}
        body = MIMEMultipart("alternative")
        body.attach(MIMEText(env.get_template("delivery/messages/purchase_order.txt").render(**context), "plain", _QP))
        body.attach(MIMEText(env.get_template("delivery/messages/purchase_order.html").render(**context), "html", _QP))
        mime = MIMEMultipart("mixed")
        subject = messages.one_line(notice.subject)
        mime["Subject"] = subject if utf8 else Header(subject, "utf-8")
        mime["From"] = sender
        mime["To"] = rcpt
        if order.get("reply_to"):
            mime["Reply-To"] = messages.one_line(order["reply_to"])
        mime["Date"] = formatdate(usegmt=True)
        mime["Message-ID"] = message_id
        mime.attach(body)
        attachment = MIMEApplication(order_csv(order).encode("utf-8"), "csv")
        attachment.replace_header("Content-Type", 'text/csv; charset="utf-8"')
        attachment.add_header("Content-Disposition", "attachment", filename=f"{messages.one_line(order['number'])}.csv")
        mime.attach(attachment)
        return mime.as_bytes(policy=policy.SMTPUTF8 if utf8 else _ASCII_POLICY)


def order_csv(order):
    """The order's lines as CSV with a header row (a formula-looking cell is quoted with a ')."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["product", "sku", "quantity", "unit_cost", "line_cost", "currency"])
    for line in order["lines"]:
        writer.writerow([_cell(line["product"]), _cell(line["sku"] or ""), line["quantity"], line["unit_cost"] or "",
                         line["line_cost"] or "", order["currency"]])
    return out.getvalue()


def _cell(text):
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def unsubscribe_url(public_url, client_id, address):
    return f"{public_url.rstrip('/')}/unsubscribe/{unsubscribe_token(client_id, 'email', address)}"
