"""Suppliers, purchase orders and their lines."""
from ..extensions import db
from ..timeutil import utcnow
from ..retail.models import shop_default_location

ORDER_STATUSES = ("draft", "sent", "partially_received", "received", "cancelled")
OPEN_STATUSES = ("sent", "partially_received")  # what counts as on order


class Supplier(db.Model):
    __tablename__ = "suppliers"
    __table_args__ = (
        db.CheckConstraint("lead_time_days >= 0 AND lead_time_days <= 365", name="lead_time"),
        db.Index("ix_suppliers_client", "client_id", "name"),
    )

    id = db.Column(db.Integer, primary_key=True)
    client_id = db.Column(db.Integer, db.ForeignKey("clients.id"), nullable=False)
    name = db.Column(db.String(200), nullable=False)
    email = db.Column(db.String(254), nullable=True)
    phone = db.Column(db.String(32), nullable=True)
    lead_time_days = db.Column(db.Integer, nullable=False, default=0, server_default="0")
    notes = db.Column(db.Text, nullable=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    def to_dict(self):
        return {"id": self.id, "name": self.name, "email": self.email, "phone": self.phone,
                "lead_time_days": self.lead_time_days, "notes": self.notes}

    def brief(self):
        return {"id": self.id, "name": self.name}


class PurchaseOrder(db.Model):
    """An order to one supplier; `number` is the shop's own sequence (PO-1, PO-2, ...), unique per
    shop in the database."""

    __tablename__ = "purchase_orders"
    __table_args__ = (
        db.UniqueConstraint("client_id", "number", name="uq_purchase_orders_client_number"),
        db.Index("ix_purchase_orders_status", "client_id", "status"),
    )

    id = db.Column(db.Integer, primary_key=True)
    client_id = db.Column(db.Integer, db.ForeignKey("clients.id"), nullable=False)
    number = db.Column(db.Integer, nullable=False)
    supplier_id = db.Column(db.Integer, db.ForeignKey("suppliers.id"), nullable=False)
    location_id = db.Column(db.Integer, nullable=True, default=shop_default_location)  # where it is received
    status = db.Column(db.String(20), nullable=False, default="draft", server_default="draft")
    created_by = db.Column(db.Integer, db.ForeignKey("users.id"), nullable=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    sent_at = db.Column(db.DateTime, nullable=True)
    received_at = db.Column(db.DateTime, nullable=True)
    cancelled_at = db.Column(db.DateTime, nullable=True)

    supplier = db.relationship(Supplier, lazy="joined")
    lines = db.relationship("PurchaseOrderLine", lazy="selectin", order_by="PurchaseOrderLine.id",
                            cascade="all, delete-orphan", back_populates="order")

    @property
    def label(self):
        return f"PO-{self.number}"


class PurchaseOrderLine(db.Model):
    __tablename__ = "purchase_order_lines"
    __table_args__ = (
        db.UniqueConstraint("order_id", "product_id", name="uq_purchase_order_lines_order_product"),
        db.Index("ix_purchase_order_lines_product", "client_id", "product_id"),
    )

    id = db.Column(db.Integer, primary_key=True)
    client_id = db.Column(db.Integer, db.ForeignKey("clients.id"), nullable=False)
    order_id = db.Column(db.Integer, db.ForeignKey("purchase_orders.id", ondelete="CASCADE"), nullable=False)
    product_id = db.Column(db.Integer, db.ForeignKey("products.id"), nullable=False)
    quantity = db.Column(db.Integer, nullable=False)
    received = db.Column(db.Integer, nullable=False, default=0, server_default="0")
    unit_cost = db.Column(db.Numeric(12, 2), nullable=True)

    order = db.relationship(PurchaseOrder, back_populates="lines")
    product = db.relationship("Product", lazy="joined")
