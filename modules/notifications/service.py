"""The bell: each user's notifications and their read state. New alerts become one notification
per active user of the shop who wants that kind, written in the alert's transaction (a listener of `alerts_raised`)."""
from sqlalchemy import Boolean, and_, bindparam, func, insert, literal, or_, select, text, update

from ..alerts import kinds
from ..alerts.models import StockAlertLog
from ..alerts.signals import alerts_raised
from ..auth.models import User
from ..auth.sessions import parse_session_id
from ..auth.tenancy import for_shop
from ..dialect import id_in
from ..extensions import db
from ..retail.models import Category, Product
from ..timeutil import utcnow
from .models import Notification, UserPreferences


@alerts_raised.connect
def notify_users(sender, alerts, now, user_id=None):
    """One bell notification per active user of the shop, per new alert. Returns the one written
    for `user_id` for the first alert (JSON-ready), or None."""
    if not alerts:
        return None
    kind, stock = StockAlertLog.kind, StockAlertLog.stock_level
    source = (
        select(
            StockAlertLog.client_id, User.id, literal("alert"), kind, kinds.sql_level(kind, stock),
            kinds.sql_message(kind, Product.name, stock, Category.name, StockAlertLog.days_left),
            kinds.sql_action_url(kind, Product.id, stock), literal(False), literal(now), StockAlertLog.id, Product.id,
        )
        .join(Product, Product.id == StockAlertLog.product_id)
        .outerjoin(Category, Category.id == Product.category_id)
        .join(User, and_(User.client_id == StockAlertLog.client_id, User.active.is_(True)))
        .outerjoin(UserPreferences, UserPreferences.user_id == User.id)
        .where(id_in(StockAlertLog.id, [a.log_id for a in alerts]),
               # a person who chose kinds hears only those (",low,forecast,")
               or_(UserPreferences.kinds.is_(None), UserPreferences.kinds.contains("," + kind + ",")))
    )
    # The plain INSERT (no ON CONFLICT here): SQLAlchemy caches its compiled form, while the
    # dialects' ON CONFLICT inserts are compiled again on every execution.
    db.session.execute(insert(Notification).from_select(
        ["client_id", "user_id", "type", "kind", "level", "message", "action_url", "is_read", "created_at",
         "alert_log_id", "product_id"], source))
    if user_id is None:
        return None
    shown = db.session.execute(
        select(Notification).where(Notification.alert_log_id == alerts[0].log_id, Notification.user_id == user_id)
    ).scalar_one_or_none()
    return shown.to_dict() if shown else None


def _mine(user):
    return for_shop(Notification, user.client_id).where(Notification.user_id == user.id)


def list_notifications(user, unread_only=False, limit=20, before_id=None):
    stmt = _mine(user)
    if unread_only:
        stmt = stmt.where(Notification.is_read.is_(False))
    if before_id is not None:
        stmt = stmt.where(Notification.id < before_id)
    return db.session.execute(stmt.order_by(Notification.id.desc()).limit(limit)).scalars().all()


# Written once as SQL: building and caching an expression on every poll cost as much as running it.
_UNREAD_OF_LIVE_SESSION = text(
    "SELECT count(n.id) FROM users AS u"
    " LEFT JOIN notifications AS n ON n.user_id = u.id AND n.is_read = :no"
    " WHERE u.id = :user_id AND u.session_version = :version AND u.active = :yes GROUP BY u.id"
).bindparams(bindparam("no", False, type_=Boolean), bindparam("yes", True, type_=Boolean))


def unread_count_of_session(session_id):
    """The unread count of the user a session id names, or None when it names nobody live: one
    indexed query (the user's row by primary key, its unread notifications by (user_id, is_read)),
    no ORM load. The bell's poll from every open tab comes here."""
    parsed = parse_session_id(session_id)
    if parsed is None:
        return None
    row = db.session.connection().execute(
        _UNREAD_OF_LIVE_SESSION, {"user_id": parsed[0], "version": parsed[1]}).first()
    return None if row is None else row[0]


def unread_count(user) -> int:
    return db.session.execute(
        select(func.count()).select_from(Notification)
        .where(Notification.user_id == user.id, Notification.is_read.is_(False))
    ).scalar_one()


def get_notification(user, notification_id):
    return db.session.execute(_mine(user).where(Notification.id == notification_id)).scalar_one_or_none()


def mark_read(notification):
    if not notification.is_read:
        notification.is_read = True
        notification.read_at = utcnow()
    db.session.commit()
    return notification


def mark_all_read(user) -> int:
    result = db.session.execute(
        update(Notification)
        .where(Notification.user_id == user.id, Notification.is_read.is_(False))
        .values(is_read=True, read_at=utcnow()),
        execution_options={"synchronize_session": False},
    )
    db.session.commit()
    return result.rowcount
