"""The bell: each user's notifications and their read state."""
from sqlalchemy import func, select, update

from ..extensions import db
from ..timeutil import utcnow
from .models import Notification


def _mine(user):
    return select(Notification).where(Notification.user_id == user.id, Notification.client_id == user.client_id)


def list_notifications(user, unread_only=False, limit=20, before_id=None):
    stmt = _mine(user)
    if unread_only:
        stmt = stmt.where(Notification.is_read.is_(False))
    if before_id is not None:
        stmt = stmt.where(Notification.id < before_id)
    return db.session.execute(stmt.order_by(Notification.id.desc()).limit(limit)).scalars().all()


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
