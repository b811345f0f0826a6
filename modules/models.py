"""Every model, imported in one place so that Alembic and the app see the whole schema."""
from .auth.models import ApiToken, Client, LoginAttempt, User, UserSession  # noqa: F401
from .alerts.models import StockAlert, StockAlertLog  # noqa: F401
from .auth.models import NotificationSettings  # noqa: F401
from .delivery.models import Delivery, RateLimit, Recipient  # noqa: F401
from .notifications.models import Notification, UserPreferences  # noqa: F401
from .retail.models import Category, IdempotencyKey, Product, StockMovement  # noqa: F401
from .periodic import WorkerHeartbeat  # noqa: F401
from .purchasing.models import PurchaseOrder, PurchaseOrderLine, Supplier  # noqa: F401
