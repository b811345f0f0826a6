"""A shop's settings row: read by every feature, created with the defaults on first read."""
from ..dialect import insert
from ..extensions import db
from .models import DEFAULT_THRESHOLD, NotificationSettings
from .tenancy import for_shop


def get_settings(client_id) -> NotificationSettings:
    settings = db.session.execute(for_shop(NotificationSettings, client_id)).scalar_one_or_none()
    if settings is None:
        # Two first reads at once must not both insert: the UNIQUE client_id decides.
        db.session.execute(insert(NotificationSettings).values(client_id=client_id)
                           .on_conflict_do_nothing(index_elements=["client_id"]))
        settings = db.session.execute(for_shop(NotificationSettings, client_id)).scalar_one()
    return settings


def shop_threshold(client_id) -> int:
    """The shop's low-stock threshold without creating its settings row."""
    value = db.session.execute(
        for_shop(NotificationSettings, client_id, NotificationSettings.low_stock_threshold)
    ).scalar_one_or_none()
    return DEFAULT_THRESHOLD if value is None else value
