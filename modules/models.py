"""Every model, imported in one place so that Alembic and the app see the whole schema."""
from .auth.models import Client, User  # noqa: F401
from .notifications.models import (  # noqa: F401
    Delivery,
    Notification,
    NotificationSettings,
    StockAlert,
    StockAlertLog,
)
from .retail.models import Category, Product, StockMovement  # noqa: F401
