"""The bell: each user's notifications and their read state. New alerts become one notification
per active user of the shop who wants that kind, written in the alert's transaction (a listener of
`alerts_raised`)."""
from collections import namedtuple

from sqlalchemy import Boolean, and_, bindparam, delete, insert, literal, or_, select, text, true, update

from ..alerts import kinds
from ..alerts.models import StockAlertLog
from ..alerts.signals import alerts_raised
from ..auth.models import User, UserLocation
from ..auth.sessions import LIVE_USER, live_user_params, parse_session_id
from ..auth.tenancy import for_shop
from ..dialect import id_in
from ..extensions import db
from ..retail import locations
from ..retail.models import Category, Location, Product
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
            StockAlertLog.client_id, User.id, literal("alert"), kind, kinds.sql_level(kind),
            kinds.sql_message(kind, Product.name, stock, Category.name, StockAlertLog.days_left, kinds.sql_log_place()),
            kinds.sql_action_url(kind, Product.id), literal(False), literal(now), StockAlertLog.id, Product.id,
            StockAlertLog.location_id,
        )
        .join(Product, Product.id == StockAlertLog.product_id)
        .join(Location, Location.id == StockAlertLog.location_id)
        .outerjoin(Category, Category.id == Product.category_id)
        .join(User, and_(User.client_id == StockAlertLog.client_id, User.active.is_(True)))
        .outerjoin(UserPreferences, UserPreferences.user_id == User.id)
        .where(id_in(StockAlertLog.id, [a.log_id for a in alerts]),
               # a person who chose kinds hears only those (",low,forecast,"), else their role's
               kinds.sql_hears(kind, User.role, UserPreferences.kinds),
               hears_place(User, StockAlertLog.location_id))
    )
    # The plain INSERT (no ON CONFLICT here): SQLAlchemy caches its compiled form, while the
    # dialects' ON CONFLICT inserts are compiled again on every execution.
    db.session.execute(insert(Notification).from_select(
        ["client_id", "user_id", "type", "kind", "level", "message", "action_url", "is_read", "created_at",
         "alert_log_id", "product_id", "location_id"], source))
    if user_id is None:
        return None
    shown = db.session.execute(
        select(Notification).where(Notification.alert_log_id == alerts[0].log_id, Notification.user_id == user_id)
    ).scalar_one_or_none()
    return shown.to_dict() if shown else None


def hears_place(user, location_col):
    """Whether a person hears an alert at `location_col`: owners and people limited to no
    location hear every place; the others only their own."""
    places = select(UserLocation.location_id).where(UserLocation.user_id == user.id)
    return or_(user.role == "owner", ~places.exists(), location_col.in_(places))


def _mine(user):
    return for_shop(Notification, user.client_id).where(Notification.user_id == user.id)


def list_notifications(user, unread_only=False, limit=20, before_id=None):
    stmt = _mine(user)
    if unread_only:
        stmt = stmt.where(Notification.is_read.is_(False))
    if before_id is not None:
        stmt = stmt.where(Notification.id < before_id)
    return suggest(user.client_id, db.session.execute(stmt.order_by(Notification.id.desc()).limit(limit)).scalars().all(), user)


def reader_places(user):
    """The locations a reader (a User or a bell Reader) is limited to, or None for all of them:
    read by id, so the bell's poll loads no user."""
    role = db.session.execute(select(User.role).where(User.id == user.id)).scalar_one_or_none()
    if role == "owner":
        return None
    ids = db.session.execute(select(UserLocation.location_id).where(UserLocation.user_id == user.id)).scalars().all()
    return set(ids) or None


SUGGESTING = ("low", "out")  # the kinds that say where stock can come from


def suggest(client_id, notifications, reader=None):
    """For a `reader`, set each low or out notification's `transfer` (the one-click
    transfer's {product_id, from_location_id, to_location_id, quantity}) when the reader may move
    stock between both places and the place is still low. Returns them."""
    # Only alerts that carried a suggestion when raised (a shop of one location asks nothing more).
    places = {(n.product_id, n.location_id) for n in notifications
              if n.kind in SUGGESTING and n.suggestion and n.product_id is not None and n.location_id is not None}
    found = locations.suggested_transfers(client_id, places) if places else {}
    reader_ids = reader_places(reader) if reader is not None and any(f["quantity"] for f in found.values()) else False
    for n in notifications:
        got = found.get((n.product_id, n.location_id))
        if got and got["quantity"] and reader_ids is not False and (
                reader_ids is None or {got["from_location"]["id"], n.location_id} <= reader_ids):
            n.transfer = {"product_id": n.product_id, "from_location_id": got["from_location"]["id"],
                          "to_location_id": n.location_id, "quantity": got["quantity"]}
    return notifications


# The badge's count is exact up to UNREAD_CAP (API.md: 1,000 means 1,000 or more): at most that
# many entries of the index (user_id, is_read, id) are read, however many a user leaves unread.
UNREAD_CAP = 1000
BOUNDED_UNREAD = ("SELECT count(*) FROM (SELECT 1 FROM notifications AS n WHERE n.user_id = :user_id"
                  f" AND n.is_read = :read LIMIT {UNREAD_CAP}) AS unread")
# Whose session this is, if it is live (the rule of auth.sessions.load_user, by primary key), with
# the user's bounded unread count, in one statement: the bell's poll and its list ask this instead
# of loading the user through Flask-Login.
LIVE_SESSION = text(f"SELECT u.client_id, ({BOUNDED_UNREAD}) FROM users AS u WHERE {LIVE_USER}").bindparams(
    bindparam("read", False, type_=Boolean), bindparam("active", True, type_=Boolean))
UNREAD = text(BOUNDED_UNREAD).bindparams(bindparam("read", False, type_=Boolean))
Reader = namedtuple("Reader", "id client_id unread")


def live_reader(session_id):
    """The Reader a session id ("<user id>:<version>:<key>") names, or None when it names nobody live."""
    parsed = parse_session_id(session_id)
    if parsed is None:
        return None
    row = db.session.execute(LIVE_SESSION, live_user_params(parsed)).first()
    return None if row is None else Reader(parsed[0], row[0], row[1])


def unread_count(user) -> int:
    """The user's unread notifications, counted up to UNREAD_CAP."""
    return db.session.execute(UNREAD, {"user_id": user.id}).scalar_one()


def prune_read(before, batch=500, max_batches=20):
    """Delete read notifications created before `before`, `batch` rows per statement, each in its
    own short transaction (found on the partial index of read rows by age); stops after
    `max_batches`, the rest is for the next call. Returns how many were deleted."""
    oldest_read = (select(Notification.id).where(Notification.is_read == true(), Notification.created_at < before)
                   .order_by(Notification.created_at).limit(batch))
    deleted = 0
    for _ in range(max_batches):
        count = db.session.execute(delete(Notification).where(Notification.id.in_(oldest_read.scalar_subquery())),
                                   execution_options={"synchronize_session": False}).rowcount
        db.session.commit()
        deleted += count
        if count < batch:
            break
    return deleted


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
