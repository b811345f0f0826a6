"""Bell notifications: one row per user per alert, with its own read state."""
from ..alerts import kinds
from ..alerts.models import StockAlertLog
from ..extensions import db
from ..retail.models import Location
from ..timeutil import isoformat, utcnow


class Notification(db.Model):
    __tablename__ = "notifications"
    __table_args__ = (
        db.Index("ix_notifications_user_unread", "user_id", "is_read", "id"),  # the unread count
        db.Index("ix_notifications_user_id", "user_id", "id"),  # the bell's list, newest first
        # Retention: read notifications by age (unread rows, most of the new ones, stay out of it).
        db.Index("ix_notifications_read_created", "created_at", sqlite_where=db.text("is_read = 1"),
                 postgresql_where=db.text("is_read = true")),
    )

    id = db.Column(db.Integer, primary_key=True)
    client_id = db.Column(db.Integer, db.ForeignKey("clients.id"), nullable=False)
    user_id = db.Column(db.Integer, db.ForeignKey("users.id"), nullable=False)
    type = db.Column(db.String(16), nullable=False, default="alert")
    kind = db.Column(db.String(16), nullable=False, default="low", server_default="low")
    level = db.Column(db.String(8), nullable=False, default="low")
    message = db.Column(db.String(500), nullable=False)
    action_url = db.Column(db.String(255), nullable=True)
    is_read = db.Column(db.Boolean, nullable=False, default=False)
    read_at = db.Column(db.DateTime, nullable=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    alert_log_id = db.Column(db.Integer, db.ForeignKey("stock_alert_log.id"), nullable=True)
    product_id = db.Column(db.Integer, db.ForeignKey("products.id"), nullable=True)
    location_id = db.Column(db.Integer, db.ForeignKey("locations.id"), nullable=True)  # the alert's place

    location = db.relationship(Location, lazy="joined")
    alert = db.relationship(StockAlertLog, lazy="joined")

    live_suggestion = False  # the stock of now, when the reader computed it (service.suggest)

    @property
    def suggestion(self):
        """Transfer before you buy: where stock could come from, as the stock stands now when the
        reader asked (service.suggest), else as it stood when the alert was raised."""
        if self.live_suggestion is not False:
            return self.live_suggestion
        return self.alert.suggestion if self.alert is not None else None
    transfer = None  # the bell's one-click transfer (service.suggest), when the reader may make it

    @property
    def badge(self):
        """The kind's short word in the bell (the registry's)."""
        return kinds.get(self.kind).badge

    def to_dict(self):
        return {
            "id": self.id,
            "type": self.type,
            "kind": self.kind,
            "level": self.level,
            "badge": self.badge,
            "message": self.message,
            "action_url": self.action_url,
            "product_id": self.product_id,
            "location": self.location.brief() if self.location is not None else None,
            "suggestion": self.suggestion,
            "transfer": self.transfer,
            "is_read": self.is_read,
            "created_at": isoformat(self.created_at),
        }


class UserPreferences(db.Model):
    """What reaches one person: the alert kinds of their bell and their own channels (null: all)."""

    __tablename__ = "user_preferences"

    user_id = db.Column(db.Integer, db.ForeignKey("users.id"), primary_key=True)
    client_id = db.Column(db.Integer, db.ForeignKey("clients.id"), nullable=False)
    kinds = db.Column(db.String(100), nullable=True)  # ",low,forecast,": a LIKE away in SQL; null: every kind
    updated_at = db.Column(db.DateTime, nullable=False, default=utcnow, onupdate=utcnow)
