"""The outbox (one row per alert, channel and recipient, each with its own fate), the recipients
(rows, so that a new channel needs no migration) and the limits several processes share."""
from ..extensions import db
from ..timeutil import isoformat, utcnow

DELIVERY_STATUSES = ("pending", "sending", "sent", "delivered", "failed", "undelivered", "dead")


class Delivery(db.Model):
    """The outbox: one message to one recipient on one channel, with its own fate."""

    __tablename__ = "deliveries"
    __table_args__ = (
        db.UniqueConstraint("dedupe_key", "channel", "recipient", name="uq_deliveries_key"),
        db.Index("ix_deliveries_due", "status", "next_attempt_at"),
        db.Index("ix_deliveries_client", "client_id", "id"),
        db.Index("ix_deliveries_provider_id", "provider_id"),
        # Retention: rows that still hold a body, by age (an emptied row leaves the index).
        db.Index("ix_deliveries_body_kept", "created_at", sqlite_where=db.text("payload IS NOT NULL OR body != ''"),
                 postgresql_where=db.text("payload IS NOT NULL OR body != ''")),
    )

    id = db.Column(db.Integer, primary_key=True)
    client_id = db.Column(db.Integer, db.ForeignKey("clients.id"), nullable=False)
    alert_log_id = db.Column(db.Integer, db.ForeignKey("stock_alert_log.id"), nullable=True)
    # "alert:<log id>", "digest:<client>:<date>" or "test:<uuid>": what makes a message unique.
    dedupe_key = db.Column(db.String(80), nullable=False)
    channel = db.Column(db.String(16), nullable=False)
    recipient = db.Column(db.String(512), nullable=False)
    subject = db.Column(db.String(255), nullable=False, default="")
    body = db.Column(db.Text, nullable=False, default="")
    html_body = db.Column(db.Text, nullable=True)
    # What the message is about ({"type": "alert"|"digest"|"test", "shop": ..., "items": [...]}):
    # a channel renders it when sending, so that a burst can go as one message.
    payload = db.Column(db.JSON, nullable=True)
    status = db.Column(db.String(16), nullable=False, default="pending")
    attempts = db.Column(db.Integer, nullable=False, default=0)
    next_attempt_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    claimed_until = db.Column(db.DateTime, nullable=True)
    last_error = db.Column(db.Text, nullable=True)
    provider_id = db.Column(db.String(128), nullable=True)
    provider_status = db.Column(db.String(32), nullable=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    sent_at = db.Column(db.DateTime, nullable=True)
    delivered_at = db.Column(db.DateTime, nullable=True)

    def to_dict(self):
        return {
            "id": self.id,
            "channel": self.channel,
            "recipient": self.recipient,
            "status": self.status,
            "attempts": self.attempts,
            "last_error": self.last_error,
            "provider_status": self.provider_status,
            "created_at": isoformat(self.created_at),
            "sent_at": isoformat(self.sent_at),
            "delivered_at": isoformat(self.delivered_at),
        }


class Recipient(db.Model):
    """An address on a channel: on the shop's list (user_id null) or a person's own."""

    __tablename__ = "recipients"
    __table_args__ = (
        db.Index("uq_recipients_shop_address", "client_id", "channel", "address", unique=True,
                 sqlite_where=db.text("user_id IS NULL AND location_id IS NULL"),
                 postgresql_where=db.text("user_id IS NULL AND location_id IS NULL")),
        db.Index("uq_recipients_location_address", "location_id", "channel", "address", unique=True,
                 sqlite_where=db.text("location_id IS NOT NULL"), postgresql_where=db.text("location_id IS NOT NULL")),
        # A person's addresses: one per channel for most (kept so in code), one per device for push.
        db.Index("uq_recipients_user_address", "user_id", "channel", "address", unique=True,
                 sqlite_where=db.text("user_id IS NOT NULL"), postgresql_where=db.text("user_id IS NOT NULL")),
        db.Index("ix_recipients_client_enabled", "client_id", "enabled"),  # the outbox's join (0017o)
    )

    id = db.Column(db.Integer, primary_key=True)
    client_id = db.Column(db.Integer, db.ForeignKey("clients.id"), nullable=False)
    user_id = db.Column(db.Integer, db.ForeignKey("users.id"), nullable=True)
    channel = db.Column(db.String(16), nullable=False)
    address = db.Column(db.String(512), nullable=False)
    enabled = db.Column(db.Boolean, nullable=False, default=True, server_default=db.true())
    mode = db.Column(db.String(16), nullable=True)  # "instant" | "digest"; null: the shop's mode
    location_id = db.Column(db.Integer, nullable=True)  # a location's list; null: the whole shop
    secret = db.Column(db.String(128), nullable=True)  # the webhook's signing key
    opted_out_at = db.Column(db.DateTime, nullable=True)  # replied STOP, or unsubscribed
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)


class RateLimit(db.Model):
    """A counter per shop, limit and period (an hour, a shop-local day), shared by processes."""

    __tablename__ = "rate_limits"
    __table_args__ = (db.UniqueConstraint("client_id", "name", "period", name="uq_rate_limits_window"),)

    id = db.Column(db.Integer, primary_key=True)
    client_id = db.Column(db.Integer, db.ForeignKey("clients.id"), nullable=False)
    name = db.Column(db.String(40), nullable=False)
    period = db.Column(db.String(32), nullable=False)
    count = db.Column(db.Integer, nullable=False, default=0, server_default="0")


class ProviderReceipt(db.Model):
    """A provider's receipt that came before its message's send was recorded, kept until it is."""

    __tablename__ = "provider_receipts"
    __table_args__ = (db.Index("ix_provider_receipts_provider_id", "provider_id"),)

    id = db.Column(db.Integer, primary_key=True)
    provider_id = db.Column(db.String(128), nullable=False)
    status = db.Column(db.String(16), nullable=True)  # "delivered", "undelivered" or null (intermediate)
    provider_status = db.Column(db.String(32), nullable=False)
    error = db.Column(db.Text, nullable=True)
    opt_out = db.Column(db.Boolean, nullable=False, default=False)
    received_at = db.Column(db.DateTime, nullable=False, default=utcnow)
