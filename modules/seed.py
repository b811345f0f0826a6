"""The demo shop a first run gets: a dozen products across categories, some low, one out, with
their suppliers (lead times), cost and sell prices and pack sizes, kept at two stores and a stock
room (Downtown, the default, sends some of its stock on to Uptown and the stock room, so Uptown
runs low on things Downtown can spare)."""
import secrets
from decimal import Decimal

from .auth import service as auth_service
from .auth.models import Client
from .extensions import db
from .purchasing import service as purchasing_service
from .retail import locations
from .retail import service as retail_service

DEMO_EMAIL = "demo@example.com"  # an address the register form accepts too
DEMO_SUPPLIERS = {
    # key: name, email, lead time in days
    "dairy": ("Meadow Dairy Co", "orders@meadow-dairy.example", 2),
    "bakery": ("Early Bird Bakery", "hello@earlybird-bakery.example", 1),
    "wholesale": ("City Wholesale", "purchasing@city-wholesale.example", 7),
}
DEMO_PRODUCTS = [
    # name, sku, category, stock, own threshold, supplier, cost, price, pack size
    ("Whole Milk 1L", "DAI-001", "Dairy", 3, None, "dairy", "0.65", "1.19", 12),
    ("Greek Yogurt 500g", "DAI-002", "Dairy", 14, None, "dairy", "1.40", "2.49", 6),
    ("Cheddar 200g", "DAI-003", "Dairy", 0, None, "dairy", "1.90", "3.29", 1),
    ("Sourdough Loaf", "BAK-001", "Bakery", 2, None, "bakery", "2.10", "4.50", 1),
    ("Croissant", "BAK-002", "Bakery", 24, 10, "bakery", "0.45", "1.40", 12),
    ("Espresso Beans 1kg", "BEV-001", "Beverages", 8, 10, "wholesale", "11.50", "19.90", 1),
    ("Orange Juice 1L", "BEV-002", "Beverages", 30, None, "wholesale", "1.10", "2.29", 6),
    ("Sparkling Water 6x", "BEV-003", "Beverages", 19, None, "wholesale", "2.30", "3.99", 4),
    ("Bananas (kg)", "PRO-001", "Produce", 40, None, None, "0.80", "1.49", 1),
    ("Avocado", "PRO-002", "Produce", 12, None, None, "0.55", "1.20", 1),
    ("Dish Soap", "HOM-001", "Household", 9, None, "wholesale", "1.20", "2.79", 12),
    ("Paper Towels 4x", "HOM-002", "Household", 16, None, "wholesale", "2.60", "4.99", 8),
]

DEMO_DEFAULT = "Downtown"  # the shop's first location (Main), renamed
DEMO_PLACES = [("Uptown", "store"), ("Stock room", "stockroom")]
DEMO_SPREAD = {
    # sku: units transferred from Downtown to (Uptown, the stock room); the totals stay DEMO_PRODUCTS'
    "DAI-001": (1, 0),
    "DAI-002": (6, 0),
    "BAK-002": (12, 0),
    "BEV-001": (0, 6),
    "BEV-002": (2, 10),   # Uptown low: Downtown can spare 13
    "BEV-003": (7, 0),
    "PRO-001": (15, 0),
    "PRO-002": (3, 0),    # Uptown low: Downtown can spare 4
    "HOM-001": (0, 4),
    "HOM-002": (0, 8),
}


def demo_exists() -> bool:
    return db.session.execute(db.select(Client.id).limit(1)).first() is not None


def seed_demo(email=DEMO_EMAIL, password=None):
    """Create the demo shop; returns (email, password). The password is random unless given."""
    password = password or secrets.token_urlsafe(12)
    client, user = auth_service.create_shop("Demo Corner Shop", email, password, "UTC")
    suppliers = {key: purchasing_service.save_supplier(client.id, user.id, {
        "name": name, "email": email, "lead_time_days": lead}).id
        for key, (name, email, lead) in DEMO_SUPPLIERS.items()}
    downtown = locations.get_location(client.id, locations.default_location_id(client.id))
    locations.update_location(downtown, user.id, {"name": DEMO_DEFAULT})
    places = [locations.create_location(client.id, user.id, name, kind).id for name, kind in DEMO_PLACES]
    for name, sku, category, stock, threshold, supplier, cost, price, pack in DEMO_PRODUCTS:
        product, _ = retail_service.create_product(
            client.id, user.id, name, sku=sku, category=category, stock=stock, low_stock_threshold=threshold,
            supplier_id=suppliers.get(supplier), cost_price=Decimal(cost), sell_price=Decimal(price), pack_size=pack)
        for place, quantity in zip(places, DEMO_SPREAD.get(sku, ())):
            if quantity:
                locations.transfer(client.id, user.id, product, downtown.id, place, quantity, "Opening stock")
    db.session.commit()
    return email, password
