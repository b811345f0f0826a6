"""The daily alert log (the de-duplication) and alert episodes."""
from ..extensions import db
from ..retail.models import shop_default_location
from ..timeutil import isoformat, utcnow


class StockAlertLog(db.Model):
    """One row per product, kind and shop-local day: the database decides what is new."""

    __tablename__ = "stock_alert_log"
    __table_args__ = (
        db.UniqueConstraint("client_id", "product_id", "location_id", "kind", "alert_date",
                            name="uq_stock_alert_log_place_kind_day"),
        # The dashboard's alerts per day: a range of days, not the shop's whole history (0014p).
        db.Index("ix_stock_alert_log_client_date", "client_id", "alert_date"),
        # A rule's "already logged today at this place" (kinds.py, _logged_today), which names no shop (0015l).
        db.Index("ix_stock_alert_log_place_day", "product_id", "location_id", "kind", "alert_date"),
    )

    id = db.Column(db.Integer, primary_key=True)
    client_id = db.Column(db.Integer, db.ForeignKey("clients.id"), nullable=False)
    product_id = db.Column(db.Integer, db.ForeignKey("products.id"), nullable=False)
    location_id = db.Column(db.Integer, nullable=False, default=shop_default_location)  # retail's locations.id
    kind = db.Column(db.String(16), nullable=False, default="low", server_default="low")
    alert_date = db.Column(db.Date, nullable=False)
    stock_level = db.Column(db.Integer, nullable=False)
    threshold_level = db.Column(db.Integer, nullable=False)
    days_left = db.Column(db.Integer, nullable=True)  # the forecast's, when the kind is "forecast"
    # Transfer before you buy, as it stood when the alert was raised: {"from_location": {id, name},
    # "spare": n}, on low and out alerts of a shop with another location that can spare some.
    suggestion = db.Column(db.JSON, nullable=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)


class StockAlert(db.Model):
    """One low-stock episode of a product: open until restocked or resolved by hand."""

    __tablename__ = "stock_alerts"
    __table_args__ = (
        db.Index(
            "uq_stock_alerts_open_place",
            "product_id",
            "location_id",
            unique=True,
            sqlite_where=db.text("resolved_at IS NULL"),
            postgresql_where=db.text("resolved_at IS NULL"),
        ),
        db.Index("ix_stock_alerts_client", "client_id", "resolved_at"),
    )

    id = db.Column(db.Integer, primary_key=True)
    client_id = db.Column(db.Integer, db.ForeignKey("clients.id"), nullable=False)
    product_id = db.Column(db.Integer, db.ForeignKey("products.id"), nullable=False)
    location_id = db.Column(db.Integer, db.ForeignKey("locations.id"), nullable=True, default=shop_default_location)
    level = db.Column(db.String(8), nullable=False)
    stock_at_alert = db.Column(db.Integer, nullable=False)
    threshold = db.Column(db.Integer, nullable=False)
    opened_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    last_notified_at = db.Column(db.DateTime, nullable=True)
    resolved_at = db.Column(db.DateTime, nullable=True)
    resolved_by = db.Column(db.Integer, db.ForeignKey("users.id"), nullable=True)

    product = db.relationship("Product", lazy="joined")
    location = db.relationship("Location", lazy="joined")

    def to_dict(self):
        return {
            "id": self.id,
            "product": {"id": self.product.id, "name": self.product.name},
            "kind": "low",  # an episode is a low-stock one; the other kinds are single notices
            "location": self.location.brief() if self.location is not None else None,
            "level": self.level,
            "stock_at_alert": self.stock_at_alert,
            "threshold": self.threshold,
            "opened_at": isoformat(self.opened_at),
            "last_notified_at": isoformat(self.last_notified_at),
            "resolved_at": isoformat(self.resolved_at),
            "status": "resolved" if self.resolved_at else "active",
        }
