"""One scan of the alert rules over a scope (every shop, one shop, or some of its products) in one
time zone: the products that may alert (active, not snoozed, in a shop with alerts on), with
their effective threshold, which every kind's rule narrows down."""
from dataclasses import dataclass, replace
from datetime import date, datetime

from sqlalchemy import func, literal, select

from ..auth.models import Client, NotificationSettings
from ..auth.tenancy import owned_by
from ..extensions import db
from ..retail import rules as stock_rules
from ..retail.models import Category, Product

LOG_COLUMNS = ["client_id", "product_id", "alert_date", "kind", "stock_level", "threshold_level", "days_left",
               "created_at"]


def shops_enabled(settings=NotificationSettings):
    """Alerts on: the setting, or no settings row yet (the default is on)."""
    return func.coalesce(settings.low_stock_enabled, True).is_(True)


def sql_product_threshold():
    """The effective threshold of `products` joined (outer) with its category and its shop's settings."""
    return stock_rules.sql_effective_threshold(Product.low_stock_threshold, Category.low_stock_threshold,
                                               NotificationSettings.low_stock_threshold)


def with_thresholds(stmt):
    """`stmt` over products, joined to what the effective threshold reads."""
    return (stmt.outerjoin(NotificationSettings, NotificationSettings.client_id == Product.client_id)
            .outerjoin(Category, Category.id == Product.category_id))


@dataclass(frozen=True)
class Scan:
    timezone: str
    alert_date: date
    now: datetime
    client_id: int | None = None
    product_ids: tuple | None = None
    kind: str = ""

    def of(self, kind):
        return replace(self, kind=kind)

    @property
    def threshold(self):
        return sql_product_threshold()

    def candidates(self, stock, threshold, days_left):
        """SELECT LOG_COLUMNS for this kind over the products that may alert."""
        stmt = with_thresholds(
            select(Product.client_id, Product.id, literal(self.alert_date), literal(self.kind), stock, threshold,
                   days_left, literal(self.now))
            .join(Client, Client.id == Product.client_id)
        ).where(Client.timezone == self.timezone, shops_enabled(), Product.active.is_(True),
                   stock_rules.sql_not_snoozed(Product.snoozed_until, Product.muted, self.now))
        return self.scoped(stmt)

    def scoped(self, stmt):
        if self.client_id is not None:
            stmt = stmt.where(owned_by(Product, self.client_id))
        if self.product_ids is not None:
            stmt = stmt.where(Product.id.in_(self.product_ids))
        return stmt

    def shops(self):
        """SELECT client_id of the shops in scope and in this time zone whose alerts are on."""
        stmt = (select(NotificationSettings.client_id)
                .join(Client, Client.id == NotificationSettings.client_id)
                .where(Client.timezone == self.timezone, shops_enabled()))
        if self.client_id is not None:
            stmt = stmt.where(owned_by(NotificationSettings, self.client_id))
        return stmt

    def any_shop(self, condition):
        """Whether a shop in scope meets `condition` (on its settings)."""
        return db.session.execute(self.shops().where(condition).limit(1)).first() is not None

    def forecast_windows(self):
        """The window lengths of the shops in scope with the forecast on (executed: a few ints)."""
        stmt = (self.shops().with_only_columns(NotificationSettings.forecast_window_days).distinct()
                .where(NotificationSettings.forecast_days > 0))
        return sorted(db.session.execute(stmt).scalars().all())
