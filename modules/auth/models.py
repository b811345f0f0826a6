"""The shop (tenant, called client in the data) and its users."""
from flask import current_app
from flask_login import UserMixin
from werkzeug.security import check_password_hash, generate_password_hash

from ..extensions import db
from ..timeutil import isoformat, utcnow

ROLES = ("owner", "manager", "staff")
TOKEN_SCOPES = ("read", "stock")
DEFAULT_THRESHOLD = 5


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
    # Part of the session's id: bumping it ends every session and remember cookie of this user.
    session_version = db.Column(db.Integer, nullable=False, default=1, server_default="1")
    is_token = False  # a person signed in by a session, not a till's API token (auth/tokens.py)

    client = db.relationship(Client, lazy="joined")
    places = db.relationship("UserLocation", lazy="select", cascade="all, delete-orphan")

    @property
    def location_ids(self):
        """The locations this person is limited to (sorted); empty: every location. Owners
        always see every location."""
        if self.role == "owner":
            return []
        return sorted(p.location_id for p in self.places)

    def get_id(self):
        return f"{self.id}:{self.session_version}"

    @property
    def is_active(self):
        return self.active

    @property
    def can_manage(self):
        """Owners and managers change settings and users; staff do not."""
        return self.role in ("owner", "manager")

    def set_password(self, password):
        self.password_hash = generate_password_hash(password, current_app.config["PASSWORD_HASH_METHOD"])

    def check_password(self, password):
        return check_password_hash(self.password_hash, password)

    def to_dict(self):
        return {
            "id": self.id,
            "email": self.email,
            "role": self.role,
            "active": self.active,
            "client_id": self.client_id,
            "location_ids": self.location_ids,
            "created_at": isoformat(self.created_at),
        }


class UserLocation(db.Model):
    """A place a person is limited to (retail's `locations`, named by table: no import up)."""

    __tablename__ = "user_locations"

    user_id = db.Column(db.Integer, db.ForeignKey("users.id"), primary_key=True)
    location_id = db.Column(db.Integer, db.ForeignKey("locations.id"), primary_key=True)
    client_id = db.Column(db.Integer, db.ForeignKey("clients.id"), nullable=False)


class NotificationSettings(db.Model):
    """The shop's settings, one row per shop: beside the shop because every feature reads it
    (retail the threshold, alerts the kinds, delivery the channels)."""

    __tablename__ = "notification_settings"

    id = db.Column(db.Integer, primary_key=True)
    client_id = db.Column(db.Integer, db.ForeignKey("clients.id"), nullable=False, unique=True)
    low_stock_enabled = db.Column(db.Boolean, nullable=False, default=True)
    low_stock_threshold = db.Column(db.Integer, nullable=False, default=DEFAULT_THRESHOLD)
    delivery_mode = db.Column(db.String(16), nullable=False, default="instant")
    digest_time = db.Column(db.String(5), nullable=False, default="09:00")
    last_digest_at = db.Column(db.DateTime, nullable=True)
    forecast_days = db.Column(db.Integer, nullable=False, default=0, server_default="0")  # 0: off
    forecast_window_days = db.Column(db.Integer, nullable=False, default=28, server_default="28")
    notify_restocked = db.Column(db.Boolean, nullable=False, default=False, server_default=db.false())
    currency = db.Column(db.String(3), nullable=False, default="USD", server_default="USD")  # ISO 4217
    updated_at = db.Column(db.DateTime, nullable=False, default=utcnow, onupdate=utcnow)

    client = db.relationship("Client", lazy="joined")

    def to_dict(self):
        return {
            "low_stock_enabled": self.low_stock_enabled,
            "low_stock_threshold": self.low_stock_threshold,
            "timezone": self.client.timezone,
            "delivery_mode": self.delivery_mode,
            "digest_time": self.digest_time,
            "forecast_days": self.forecast_days,
            "forecast_window_days": self.forecast_window_days,
            "notify_restocked": self.notify_restocked,
            "currency": self.currency,
            "updated_at": isoformat(self.updated_at),
        }


class UserSession(db.Model):
    """One signed-in session (a sign-in or a sign-up, in one browser): its key is in the session
    and remember cookies ("<user id>:<version>:<key>"); a plain logout deletes the row, so every
    copy of that session's cookies stops working while the user's other sessions go on."""

    __tablename__ = "user_sessions"
    __table_args__ = (db.Index("ix_user_sessions_user_id", "user_id", "created_at"),)

    key = db.Column(db.String(64), primary_key=True)
    user_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)


class LoginAttempt(db.Model):
    """The sign-in throttle's and the sign-up limit's counters, shared by every process (not in
    memory): kind "pair" (an account from an address), "account" (an account from browsers
    without its device cookie), "device" (a device cookie), "address" (failures from an address,
    any account), "signup" (sign-ups from an address in the current hour)."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        db.UniqueConstraint("kind", "key", name="uq_login_attempts_kind_key"),
        db.Index("ix_login_attempts_last_failure_at", "last_failure_at"),
    )

    id = db.Column(db.Integer, primary_key=True)
    key = db.Column(db.String(300), nullable=False)
    kind = db.Column(db.String(16), nullable=False)
    failures = db.Column(db.Integer, nullable=False, default=0, server_default="0")
    last_failure_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    blocked_until = db.Column(db.DateTime, nullable=True)


class AuditEntry(db.Model):
    """Who changed what in a shop, written in the same transaction as the change."""

    __tablename__ = "audit_log"
    __table_args__ = (db.Index("ix_audit_log_client_id", "client_id", "id"),)

    id = db.Column(db.Integer, primary_key=True)
    client_id = db.Column(db.Integer, db.ForeignKey("clients.id"), nullable=False)
    user_id = db.Column(db.Integer, db.ForeignKey("users.id"), nullable=True)
    action = db.Column(db.String(64), nullable=False)
    target = db.Column(db.String(200), nullable=False)
    changes = db.Column(db.Text, nullable=False, default="{}", server_default="{}")  # JSON {field: [before, after]}
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    user = db.relationship(User, lazy="joined")


class ApiToken(db.Model):
    """A shop's API token (a till, a script): only an HMAC of the secret is kept, never the secret."""

    __tablename__ = "api_tokens"
    __table_args__ = (db.Index("ix_api_tokens_client_id", "client_id", "id"),)

    id = db.Column(db.Integer, primary_key=True)
    client_id = db.Column(db.Integer, db.ForeignKey("clients.id"), nullable=False)
    created_by = db.Column(db.Integer, db.ForeignKey("users.id"), nullable=True)
    name = db.Column(db.String(80), nullable=False)
    scope = db.Column(db.String(8), nullable=False)  # TOKEN_SCOPES
    token_hash = db.Column(db.String(64), nullable=False, unique=True)
    prefix = db.Column(db.String(16), nullable=False)  # the first characters, to tell tokens apart in lists
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    last_used_at = db.Column(db.DateTime, nullable=True)
    revoked_at = db.Column(db.DateTime, nullable=True)
    location_id = db.Column(db.Integer, nullable=True)  # bound to one location: its changes go there

    def to_dict(self):
        return {
            "id": self.id,
            "name": self.name,
            "scope": self.scope,
            "prefix": self.prefix,
            "created_at": isoformat(self.created_at),
            "last_used_at": isoformat(self.last_used_at),
            "revoked_at": isoformat(self.revoked_at),
            **({"location_id": self.location_id} if self.location_id else {}),
        }
