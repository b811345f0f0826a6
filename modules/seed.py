"""The demo shop a first run gets: a dozen products across categories, some low, one out."""
import secrets

from .auth import service as auth_service
from .auth.models import Client
from .extensions import db
from .retail import service as retail_service

DEMO_EMAIL = "demo@example.com"  # an address the register form accepts too
DEMO_PRODUCTS = [
    # name, sku, category, stock, own threshold
    ("Whole Milk 1L", "DAI-001", "Dairy", 3, None),
    ("Greek Yogurt 500g", "DAI-002", "Dairy", 14, None),
    ("Cheddar 200g", "DAI-003", "Dairy", 0, None),
    ("Sourdough Loaf", "BAK-001", "Bakery", 2, None),
    ("Croissant", "BAK-002", "Bakery", 24, 10),
    ("Espresso Beans 1kg", "BEV-001", "Beverages", 8, 10),
    ("Orange Juice 1L", "BEV-002", "Beverages", 30, None),
    ("Sparkling Water 6x", "BEV-003", "Beverages", 19, None),
    ("Bananas (kg)", "PRO-001", "Produce", 40, None),
    ("Avocado", "PRO-002", "Produce", 12, None),
    ("Dish Soap", "HOM-001", "Household", 9, None),
    ("Paper Towels 4x", "HOM-002", "Household", 16, None),
]


def demo_exists() -> bool:
    return db.session.execute(db.select(Client.id).limit(1)).first() is not None


def seed_demo(email=DEMO_EMAIL, password=None):
    """Create the demo shop; returns (email, password). The password is random unless given."""
    password = password or secrets.token_urlsafe(12)
    client, user = auth_service.create_shop("Demo Corner Shop", email, password, "UTC")
    for name, sku, category, stock, threshold in DEMO_PRODUCTS:
        retail_service.create_product(client.id, user.id, name, sku=sku, category=category, stock=stock,
                                      low_stock_threshold=threshold)
    db.session.commit()
    return email, password
