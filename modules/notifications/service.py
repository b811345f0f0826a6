"""The bell: each user's notifications and their read state. New alerts become one notification
per active user of the shop who wants that kind, written in the alert's transaction (a listener of
`alerts_raised`). Each user's unread count is a row (`unread_counts`) changed in the same
statement's transaction as the notifications it counts: here, and nowhere else."""
from collections import namedtuple

from sqlalchemy import Boolean, and_, bindparam, func, insert, literal, or_, select, text, update

from ..alerts import kinds
from ..alerts.models import StockAlertLog
from ..alerts.signals import alerts_raised
from ..auth.models import User
from ..auth.sessions import parse_session_id
from ..auth.tenancy import for_shop
from ..dialect import id_in
from ..dialect import insert as upsert
from ..extensions import db
from ..retail.models import Category, Product
from ..timeutil import utcnow
from .models import Notification, UnreadCount, UserPreferences


@alerts_raised.connect
def notify_users(sender, alerts, now, user_id=None):
    """One bell notification per active user of the shop, per new alert. Returns the one written
    for `user_id` for the first alert (JSON-ready), or None."""
    if not alerts:
        return None
    kind, stock = StockAlertLog.kind, StockAlertLog.stock_level
    source = (
        select(
            StockAlertLog.client_id, User.id.label("user_id"), literal("alert"), kind, kinds.sql_level(kind, stock),
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
    _count_unread(source.subquery())
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


def _count_unread(written):
    """Add the notifications `written` (the rows just inserted, as a subquery of the same
    transaction) to their users' unread counts: one upsert, in user id order, so that two
    transactions of one shop take the counters' row locks in the same order."""
    per_user = (select(written.c.user_id, written.c.client_id, func.count())
                .group_by(written.c.user_id, written.c.client_id).order_by(written.c.user_id))
    stmt = upsert(UnreadCount).from_select(["user_id", "client_id", "unread"], per_user)
    db.session.execute(stmt.on_conflict_do_update(
        index_elements=[UnreadCount.user_id], set_={"unread": UnreadCount.unread + stmt.excluded.unread}))


def _count_read(user_id, how_many):
    if how_many:
        db.session.execute(update(UnreadCount).where(UnreadCount.user_id == user_id)
                           .values(unread=UnreadCount.unread - how_many))


# Whose session this is, if it is live (the user active, its session version current), with the
# user's unread count: two primary-key reads. The poll (poll.py) and the bell's list ask this
# instead of loading the user through Flask-Login.
LIVE_SESSION = text(
    "SELECT u.client_id, coalesce(c.unread, 0) FROM users AS u LEFT JOIN unread_counts AS c ON c.user_id = u.id"
    " WHERE u.id = :user_id AND u.session_version = :version AND u.active = :active"
).bindparams(bindparam("active", True, type_=Boolean))
Reader = namedtuple("Reader", "id client_id unread")


def live_reader(session_id):
    """The Reader a session id ("<user id>:<version>") names, or None when it names nobody live."""
    parsed = parse_session_id(session_id)
    if parsed is None:
        return None
    row = db.session.execute(LIVE_SESSION, {"user_id": parsed[0], "version": parsed[1]}).first()
    return None if row is None else Reader(parsed[0], row[0], row[1])


def unread_count(user) -> int:
    return db.session.execute(
        select(UnreadCount.unread).where(UnreadCount.user_id == user.id)
    ).scalar_one_or_none() or 0


def get_notification(user, notification_id):
    return db.session.execute(_mine(user).where(Notification.id == notification_id)).scalar_one_or_none()


def mark_read(notification):
    """Read, once: the unread count drops only for the request that turned it read."""
    turned = db.session.execute(
        update(Notification).where(Notification.id == notification.id, Notification.is_read.is_(False))
        .values(is_read=True, read_at=utcnow()), execution_options={"synchronize_session": False}).rowcount
    _count_read(notification.user_id, turned)
    db.session.commit()
    db.session.refresh(notification)
    return notification


def mark_all_read(user) -> int:
    turned = db.session.execute(
        update(Notification)
        .where(Notification.user_id == user.id, Notification.is_read.is_(False))
        .values(is_read=True, read_at=utcnow()),
        execution_options={"synchronize_session": False},
    ).rowcount
    _count_read(user.id, turned)
    db.session.commit()
    return turned
