"""The outbox: one row per message, recipient and channel."""
from ..extensions import db
from ..timeutil import isoformat, utcnow

CHANNELS = ("email", "whatsapp", "sms")
DELIVERY_STATUSES = ("pending", "sending", "sent", "failed", "dead")


class Delivery(db.Model):
    """The outbox: one message to one recipient on one channel, with its own fate."""

    __tablename__ = "deliveries"
    __table_args__ = (
        db.UniqueConstraint("dedupe_key", "channel", "recipient", name="uq_deliveries_key"),
        db.Index("ix_deliveries_due", "status", "next_attempt_at"),
        db.Index("ix_deliveries_client", "client_id", "id"),
    )

    id = db.Column(db.Integer, primary_key=True)
    client_id = db.Column(db.Integer, db.ForeignKey("clients.id"), nullable=False)
    alert_log_id = db.Column(db.Integer, db.ForeignKey("stock_alert_log.id"), nullable=True)
    # "alert:<log id>", "digest:<client>:<date>" or "test:<uuid>": what makes a message unique.
    dedupe_key = db.Column(db.String(80), nullable=False)
    channel = db.Column(db.String(16), nullable=False)
    recipient = db.Column(db.String(254), nullable=False)
    subject = db.Column(db.String(255), nullable=False, default="")
    body = db.Column(db.Text, nullable=False, default="")
    html_body = db.Column(db.Text, nullable=True)
    status = db.Column(db.String(16), nullable=False, default="pending")
    attempts = db.Column(db.Integer, nullable=False, default=0)
    next_attempt_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    claimed_until = db.Column(db.DateTime, nullable=True)
    last_error = db.Column(db.Text, nullable=True)
    provider_id = db.Column(db.String(128), nullable=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    sent_at = db.Column(db.DateTime, nullable=True)

    def to_dict(self):
        return {
            "id": self.id,
            "channel": self.channel,
            "recipient": self.recipient,
            "status": self.status,
            "attempts": self.attempts,
            "last_error": self.last_error,
            "created_at": isoformat(self.created_at),
            "sent_at": isoformat(self.sent_at),
        }
