"""Read-side summaries of a shop's alerts, for /api/alerts/stats and the manual check."""
from sqlalchemy import func

from ..auth.tenancy import at_places, for_shop
from ..extensions import db
from ..retail import rules
from ..retail.models import Product
from ..retail.service import status_counts
from . import service as alerts
from .models import StockAlert
from .scan import sql_product_threshold, with_thresholds


def alert_stats(client_id, ids=None) -> dict:
    """The shop's counts; for a person limited to the locations `ids`, those places' alerts and
    their products as that person's products list counts them (the stock there)."""
    open_ = func.count(StockAlert.id).filter(StockAlert.resolved_at.is_(None))
    total, active = db.session.execute(at_places(for_shop(StockAlert, client_id, func.count(), open_),
                                                 StockAlert.location_id, ids)).one()
    if ids is not None:
        counts = status_counts(client_id, ids=ids)
        return {"total": total, "active": active, "resolved": total - active,
                "low_stock_products": counts["low"] - counts["out"], "out_of_stock_products": counts["out"]}
    low, out = db.session.execute(
        with_thresholds(for_shop(Product, client_id, func.count(Product.id).filter(Product.stock > 0),
                                 func.count(Product.id).filter(Product.stock <= 0)))
        .where(rules.sql_is_low(Product.active, Product.stock, sql_product_threshold()))
    ).one()
    return {"total": total, "active": active, "resolved": total - active,
            "low_stock_products": low, "out_of_stock_products": out}


def check_shop(client_id) -> dict:
    """The monitor's check, now, for one shop: how many products it looked at and what it raised."""
    checked = db.session.execute(
        for_shop(Product, client_id, func.count()).where(Product.active.is_(True))
    ).scalar_one()
    new = alerts.raise_alerts(client_id=client_id)
    return {"checked": checked, "alerts_created": len(new)}
