"""One scan of the alert rules over a scope (every shop, one shop, or some of its products) in one
time zone: the places that may alert (a product at an active location that carries it; the
product active and not snoozed, in a shop with alerts on), with their stock there and their
effective threshold there, which every kind's rule narrows down."""
from dataclasses import dataclass, replace
from datetime import date, datetime

from sqlalchemy import and_, func, literal, select

from ..auth.models import Client, NotificationSettings
from ..auth.tenancy import owned_by
from ..extensions import db
from ..retail import rules as stock_rules
from ..retail.models import Category, Location, Product, ProductStock

LOG_COLUMNS = ["client_id", "product_id", "location_id", "alert_date", "kind", "stock_level", "threshold_level",
               "days_left", "created_at"]
STOCK = ProductStock.stock  # the stock every rule reads: the product's at one location


def shops_enabled(settings=NotificationSettings):
    """Alerts on: the setting, or no settings row yet (the default is on)."""
    return func.coalesce(settings.low_stock_enabled, True).is_(True)


def sql_product_threshold():
    """The effective threshold of `products` joined (outer) with its category and its shop's
    settings: the whole shop's view of a product (its stock summed over the locations)."""
    return stock_rules.sql_effective_threshold(Product.low_stock_threshold, Category.low_stock_threshold,
                                               NotificationSettings.low_stock_threshold)


def with_thresholds(stmt):
    """`stmt` over products, joined to what the effective threshold reads."""
    return (stmt.outerjoin(NotificationSettings, NotificationSettings.client_id == Product.client_id)
            .outerjoin(Category, Category.id == Product.category_id))


def sql_place_threshold():
    """The effective threshold of a product at a location (`product_stock` joined with its product,
    the product's category (outer) and its shop's settings (outer))."""
    return stock_rules.sql_effective_threshold(ProductStock.low_stock_threshold, Product.low_stock_threshold,
                                               Category.low_stock_threshold, NotificationSettings.low_stock_threshold)


def with_places(stmt):
    """`stmt` over `product_stock`, joined to its product, its location (active ones only) and
    what the effective threshold reads."""
    return (stmt.join(Product, Product.id == ProductStock.product_id)
            .join(Location, and_(Location.id == ProductStock.location_id, Location.active.is_(True)))
            .outerjoin(NotificationSettings, NotificationSettings.client_id == ProductStock.client_id)
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
        return sql_place_threshold()

    @property
    def stock(self):
        return STOCK

    def candidates(self, stock, threshold, days_left):
        """SELECT LOG_COLUMNS for this kind over the places that may alert."""
        stmt = with_places(
            select(ProductStock.client_id, ProductStock.product_id, ProductStock.location_id, literal(self.alert_date),
                   literal(self.kind), stock, threshold, days_left, literal(self.now))
            .select_from(ProductStock)
            .join(Client, Client.id == ProductStock.client_id)
        ).where(Client.timezone == self.timezone, shops_enabled(), Product.active.is_(True),
                   stock_rules.sql_not_snoozed(Product.snoozed_until, Product.muted, self.now))
        return self.scoped(stmt)

    def scoped(self, stmt):
        if self.client_id is not None:
            stmt = stmt.where(owned_by(ProductStock, self.client_id))
        if self.product_ids is not None:
            stmt = stmt.where(ProductStock.product_id.in_(self.product_ids))
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
