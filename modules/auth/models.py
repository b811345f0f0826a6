"""The shop (tenant, called client in the data) and its users."""
from flask_login import UserMixin
from werkzeug.security import check_password_hash, generate_password_hash

from ..extensions import db
from ..timeutil import isoformat, utcnow

ROLES = ("owner", "manager", "staff")


class Client(db.Model):
    __tablename__ = "clients"

    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(120), nullable=False)
    timezone = db.Column(db.String(64), nullable=False, default="UTC")
    allow_negative_stock = db.Column(db.Boolean, nullable=False, default=False)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    def to_dict(self):
        return {
            "id": self.id,
            "name": self.name,
            "timezone": self.timezone,
            "allow_negative_stock": self.allow_negative_stock,
            "created_at": isoformat(self.created_at),
        }


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id = db.Column(db.Integer, primary_key=True)
    client_id = db.Column(db.Integer, db.ForeignKey("clients.id"), nullable=False, index=True)
    email = db.Column(db.String(254), nullable=False, unique=True)
    password_hash = db.Column(db.String(255), nullable=False)
    role = db.Column(db.String(16), nullable=False, default="staff")
    active = db.Column(db.Boolean, nullable=False, default=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    client = db.relationship(Client, lazy="joined")

    @property
    def is_active(self):
        return self.active

    @property
    def can_manage(self):
        """Owners and managers change settings and users; staff do not."""
        return self.role in ("owner", "manager")

    def set_password(self, password):
        self.password_hash = generate_password_hash(password)

    def check_password(self, password):
        return check_password_hash(self.password_hash, password)

    def to_dict(self):
        return {
            "id": self.id,
            "email": self.email,
            "role": self.role,
            "active": self.active,
            "client_id": self.client_id,
            "created_at": isoformat(self.created_at),
        }
