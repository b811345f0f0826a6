"""Settings, the daily alert log, alert episodes, bell notifications and the delivery outbox."""
from ..extensions import db
from ..timeutil import isoformat, utcnow

DEFAULT_THRESHOLD = 5
CHANNELS = ("email", "whatsapp", "sms")
DELIVERY_STATUSES = ("pending", "sending", "sent", "failed", "dead")


class NotificationSettings(db.Model):
    __tablename__ = "notification_settings"

    id = db.Column(db.Integer, primary_key=True)
    client_id = db.Column(db.Integer, db.ForeignKey("clients.id"), nullable=False, unique=True)
    low_stock_enabled = db.Column(db.Boolean, nullable=False, default=True)
    low_stock_threshold = db.Column(db.Integer, nullable=False, default=DEFAULT_THRESHOLD)
    email_enabled = db.Column(db.Boolean, nullable=False, default=False)
    email_recipients = db.Column(db.JSON, nullable=False, default=list)
    whatsapp_enabled = db.Column(db.Boolean, nullable=False, default=False)
    whatsapp_numbers = db.Column(db.JSON, nullable=False, default=list)
    sms_enabled = db.Column(db.Boolean, nullable=False, default=False)
    sms_numbers = db.Column(db.JSON, nullable=False, default=list)
    delivery_mode = db.Column(db.String(16), nullable=False, default="instant")
    digest_time = db.Column(db.String(5), nullable=False, default="09:00")
    last_digest_at = db.Column(db.DateTime, nullable=True)
    updated_at = db.Column(db.DateTime, nullable=False, default=utcnow, onupdate=utcnow)

    client = db.relationship("Client", lazy="joined")

    def recipients(self, channel):
        """The enabled recipients of one channel, or [] when the channel is off."""
        if not getattr(self, f"{channel}_enabled"):
            return []
        return list(getattr(self, "email_recipients" if channel == "email" else f"{channel}_numbers") or [])

    def to_dict(self):
        return {
            "low_stock_enabled": self.low_stock_enabled,
            "low_stock_threshold": self.low_stock_threshold,
            "timezone": self.client.timezone,
            "email_enabled": self.email_enabled,
            "email_recipients": list(self.email_recipients or []),
            "whatsapp_enabled": self.whatsapp_enabled,
            "whatsapp_numbers": list(self.whatsapp_numbers or []),
            "sms_enabled": self.sms_enabled,
            "sms_numbers": list(self.sms_numbers or []),
            "delivery_mode": self.delivery_mode,
            "digest_time": self.digest_time,
            "updated_at": isoformat(self.updated_at),
        }


class StockAlertLog(db.Model):
    """One row per product per shop-local day: the database decides what is new."""

    __tablename__ = "stock_alert_log"
    __table_args__ = (
        db.UniqueConstraint("client_id", "product_id", "alert_date", name="uq_stock_alert_log_day"),
    )

    id = db.Column(db.Integer, primary_key=True)
    client_id = db.Column(db.Integer, db.ForeignKey("clients.id"), nullable=False)
    product_id = db.Column(db.Integer, db.ForeignKey("products.id"), nullable=False)
    alert_date = db.Column(db.Date, nullable=False)
    stock_level = db.Column(db.Integer, nullable=False)
    threshold_level = db.Column(db.Integer, nullable=False)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)


class StockAlert(db.Model):
    """One low-stock episode of a product: open until restocked or resolved by hand."""

    __tablename__ = "stock_alerts"
    __table_args__ = (
        db.Index(
            "uq_stock_alerts_open_product",
            "product_id",
            unique=True,
            sqlite_where=db.text("resolved_at IS NULL"),
            postgresql_where=db.text("resolved_at IS NULL"),
        ),
        db.Index("ix_stock_alerts_client", "client_id", "resolved_at"),
    )

    id = db.Column(db.Integer, primary_key=True)
    client_id = db.Column(db.Integer, db.ForeignKey("clients.id"), nullable=False)
    product_id = db.Column(db.Integer, db.ForeignKey("products.id"), nullable=False)
    level = db.Column(db.String(8), nullable=False)
    stock_at_alert = db.Column(db.Integer, nullable=False)
    threshold = db.Column(db.Integer, nullable=False)
    opened_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    last_notified_at = db.Column(db.DateTime, nullable=True)
    resolved_at = db.Column(db.DateTime, nullable=True)
    resolved_by = db.Column(db.Integer, db.ForeignKey("users.id"), nullable=True)

    product = db.relationship("Product", lazy="joined")

    def to_dict(self):
        return {
            "id": self.id,
            "product": {"id": self.product.id, "name": self.product.name},
            "level": self.level,
            "stock_at_alert": self.stock_at_alert,
            "threshold": self.threshold,
            "opened_at": isoformat(self.opened_at),
            "last_notified_at": isoformat(self.last_notified_at),
            "resolved_at": isoformat(self.resolved_at),
            "status": "resolved" if self.resolved_at else "active",
        }


class Notification(db.Model):
    __tablename__ = "notifications"
    __table_args__ = (db.Index("ix_notifications_user_unread", "user_id", "is_read", "id"),)

    id = db.Column(db.Integer, primary_key=True)
    client_id = db.Column(db.Integer, db.ForeignKey("clients.id"), nullable=False)
    user_id = db.Column(db.Integer, db.ForeignKey("users.id"), nullable=False)
    type = db.Column(db.String(16), nullable=False, default="alert")
    level = db.Column(db.String(8), nullable=False, default="low")
    message = db.Column(db.String(500), nullable=False)
    action_url = db.Column(db.String(255), nullable=True)
    is_read = db.Column(db.Boolean, nullable=False, default=False)
    read_at = db.Column(db.DateTime, nullable=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    alert_log_id = db.Column(db.Integer, db.ForeignKey("stock_alert_log.id"), nullable=True)

    def to_dict(self):
        return {
            "id": self.id,
            "type": self.type,
            "level": self.level,
            "message": self.message,
            "action_url": self.action_url,
            "is_read": self.is_read,
            "created_at": isoformat(self.created_at),
        }


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
