"""Categories, products and the movements that record every change of stock."""
from ..auth.models import Client
from ..extensions import db
from ..timeutil import isoformat, utcnow

STOCK_REASONS = ("sale", "delivery", "count", "damage", "return", "initial")
TRANSFER_REASONS = ("transfer_out", "transfer_in")  # written by a transfer only, never asked for
LOCATION_KINDS = ("store", "stockroom", "warehouse")
MOVEMENT_SOURCES = ("app", "token", "import")
MAX_STOCK = 1_000_000_000  # stock stays within 0..MAX_STOCK (fits PostgreSQL's integer with room)


def shop_default_location(context):
    """A column default: the default location of the row's shop (a movement, an alert or an order
    written without a place is at the shop's default location, as the contract says)."""
    client_id = context.get_current_parameters().get("client_id")
    return context.connection.execute(
        db.select(Location.id).where(Location.client_id == client_id, Location.is_default.is_(True))
    ).scalar_one_or_none()


class Location(db.Model):
    """A shop's store, stock room or warehouse; every shop has exactly one default."""

    __tablename__ = "locations"
    __table_args__ = (
        db.Index("uq_locations_client_lower_name", "client_id", db.func.lower(db.text("name")), unique=True),
        db.Index("uq_locations_default", "client_id", unique=True, sqlite_where=db.text("is_default"),
                 postgresql_where=db.text("is_default")),
    )

    id = db.Column(db.Integer, primary_key=True)
    client_id = db.Column(db.Integer, db.ForeignKey("clients.id"), nullable=False)
    name = db.Column(db.String(80), nullable=False)
    kind = db.Column(db.String(16), nullable=False, default="store", server_default="store")
    is_default = db.Column(db.Boolean, nullable=False, default=False, server_default=db.false())
    active = db.Column(db.Boolean, nullable=False, default=True, server_default=db.true())
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    def brief(self):
        return {"id": self.id, "name": self.name}

    def to_dict(self):
        return {"id": self.id, "name": self.name, "kind": self.kind, "is_default": self.is_default,
                "active": self.active}


@db.event.listens_for(Client, "after_insert")
def _make_main(mapper, connection, client):
    """Every shop is made with its default location, `Main`, in the same transaction."""
    connection.execute(db.insert(Location.__table__).values(
        client_id=client.id, name="Main", kind="store", is_default=True, active=True, created_at=utcnow()))


class ProductStock(db.Model):
    """A product's stock at one location that carries it (a row exists once stock was placed there
    or a threshold set); `products.stock` is the sum over the shop's locations."""

    __tablename__ = "product_stock"
    __table_args__ = (
        db.UniqueConstraint("product_id", "location_id", name="uq_product_stock_place"),
        db.Index("ix_product_stock_location", "client_id", "location_id", "stock"),
        # The forecast's sieve: retail.windows.cover() (migration 0016w).
        db.Index("ix_product_stock_cover", "client_id", db.text("(stock * 1.0 / NULLIF(sold_before + sold_today, 0))")),
    )

    id = db.Column(db.Integer, primary_key=True)
    client_id = db.Column(db.Integer, db.ForeignKey("clients.id"), nullable=False)
    product_id = db.Column(db.Integer, db.ForeignKey("products.id"), nullable=False)
    location_id = db.Column(db.Integer, db.ForeignKey("locations.id"), nullable=False)
    stock = db.Column(db.Integer, nullable=False, default=0, server_default="0")
    low_stock_threshold = db.Column(db.Integer, nullable=True)  # null: the product's
    # The forecast's window kept here (retail.windows): units sold on the window's days before
    # today, and the units sold on `sold_on` (today's, until the shop's day turns).
    sold_before = db.Column(db.Integer, nullable=False, default=0, server_default="0")
    sold_today = db.Column(db.Integer, nullable=False, default=0, server_default="0")
    sold_on = db.Column(db.Date, nullable=True)
    updated_at = db.Column(db.DateTime, nullable=False, default=utcnow, onupdate=utcnow)


class Transfer(db.Model):
    """Stock moved from one location to another: two movements (transfer_out, transfer_in)."""

    __tablename__ = "transfers"
    __table_args__ = (db.Index("ix_transfers_client", "client_id", "id"),)

    id = db.Column(db.Integer, primary_key=True)
    client_id = db.Column(db.Integer, db.ForeignKey("clients.id"), nullable=False)
    product_id = db.Column(db.Integer, db.ForeignKey("products.id"), nullable=False)
    from_location_id = db.Column(db.Integer, db.ForeignKey("locations.id"), nullable=False)
    to_location_id = db.Column(db.Integer, db.ForeignKey("locations.id"), nullable=False)
    quantity = db.Column(db.Integer, nullable=False)
    note = db.Column(db.String(200), nullable=True)
    user_id = db.Column(db.Integer, db.ForeignKey("users.id"), nullable=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)


class Category(db.Model):
    __tablename__ = "categories"
    __table_args__ = (
        db.UniqueConstraint("client_id", "name", name="uq_categories_client_name"),
        db.Index("uq_categories_client_lower_name", "client_id", db.func.lower(db.text("name")), unique=True),
    )

    id = db.Column(db.Integer, primary_key=True)
    client_id = db.Column(db.Integer, db.ForeignKey("clients.id"), nullable=False)
    name = db.Column(db.String(80), nullable=False)
    low_stock_threshold = db.Column(db.Integer, nullable=True)  # null: the shop's threshold

    def to_dict(self):
        return {"id": self.id, "name": self.name}


class Product(db.Model):
    __tablename__ = "products"
    __table_args__ = (
        db.Index("ix_products_client_stock", "client_id", "stock"),
        db.UniqueConstraint("client_id", "sku", name="uq_products_client_sku"),
        db.Index("ix_products_supplier", "client_id", "supplier_id"),
        # The products list and its tab counts read these alone (migration 0014p).
        db.Index("ix_products_client_active_name", "client_id", "active", "name", "id"),
        db.Index("ix_products_client_active_stock", "client_id", "active", "stock", "name", "id"),
        db.Index("ix_products_client_snoozed", "client_id", "active", "muted", "snoozed_until"),
        db.Index("ix_products_client_threshold", "client_id", "low_stock_threshold"),
        db.Index("ix_products_client_value", "client_id", "active", "category_id", "stock", "cost_price", "sell_price"),
        # The low tab counted from the index alone (0016p; the search's indexes differ per database, there only).
        db.Index("ix_products_client_active_low", "client_id", "active", "stock", "low_stock_threshold", "category_id"),
        # The forecast's sieve over the whole shop, with what its exact rule reads (migration 0017p).
        db.Index("ix_products_client_cover", "client_id", "active",
                 db.text("(stock * 1.0 / NULLIF(sold_before + sold_today, 0))"), "stock", "low_stock_threshold",
                 "category_id", "sold_before", "sold_today", "sold_on", "name", "id"),
    )

    id = db.Column(db.Integer, primary_key=True)
    client_id = db.Column(db.Integer, db.ForeignKey("clients.id"), nullable=False)
    category_id = db.Column(db.Integer, db.ForeignKey("categories.id"), nullable=True)
    name = db.Column(db.String(200), nullable=False)
    sku = db.Column(db.String(64), nullable=True)
    stock = db.Column(db.Integer, nullable=False, default=0)
    low_stock_threshold = db.Column(db.Integer, nullable=True)  # null: the shop's threshold
    active = db.Column(db.Boolean, nullable=False, default=True)
    snoozed_until = db.Column(db.DateTime, nullable=True)  # no alert of any kind before this instant
    muted = db.Column(db.Boolean, nullable=False, default=False, server_default=db.false())
    # Purchasing's: the supplier (a row of `suppliers`, a higher feature's table, so no relationship
    # here), prices as exact decimals, and how an order is sized.
    supplier_id = db.Column(db.Integer, nullable=True)
    cost_price = db.Column(db.Numeric(12, 2), nullable=True)
    sell_price = db.Column(db.Numeric(12, 2), nullable=True)
    reorder_quantity = db.Column(db.Integer, nullable=True)  # null: computed from max_stock or the reorder point
    max_stock = db.Column(db.Integer, nullable=True)  # the level an order fills up to
    pack_size = db.Column(db.Integer, nullable=False, default=1, server_default="1")
    # The forecast's window over the whole shop (the sum of its places'; retail.windows).
    sold_before = db.Column(db.Integer, nullable=False, default=0, server_default="0")
    sold_today = db.Column(db.Integer, nullable=False, default=0, server_default="0")
    sold_on = db.Column(db.Date, nullable=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    updated_at = db.Column(db.DateTime, nullable=False, default=utcnow, onupdate=utcnow)

    category = db.relationship(Category, lazy="joined")
    client = db.relationship("Client", lazy="select")


@db.event.listens_for(Product, "after_insert")
def _carry_new_product(mapper, connection, product):
    """A product is carried where it was made (`product.initial_location_id`), else at its shop's
    default location, holding the stock it was written with."""
    location_id = getattr(product, "initial_location_id", None) or connection.execute(
        db.select(Location.id).where(Location.client_id == product.client_id, Location.is_default.is_(True))
    ).scalar_one()
    connection.execute(db.insert(ProductStock.__table__).values(
        client_id=product.client_id, product_id=product.id, location_id=location_id, stock=product.stock or 0,
        updated_at=utcnow()))


class StockMovement(db.Model):
    __tablename__ = "stock_movements"
    __table_args__ = (
        db.Index("ix_stock_movements_product", "client_id", "product_id", "id"),
        db.Index("ix_stock_movements_location", "client_id", "location_id", "id"),
        db.Index("ix_stock_movements_sales", "client_id", "created_at", "product_id", "delta",
                 sqlite_where=db.text("reason = 'sale'"), postgresql_where=db.text("reason = 'sale'")),
        # One product's sales (days left for a page of products), read from the index alone.
        db.Index("ix_stock_movements_product_sales", "client_id", "product_id", "created_at", "delta",
                 sqlite_where=db.text("reason = 'sale'"), postgresql_where=db.text("reason = 'sale'")),
    )

    id = db.Column(db.Integer, primary_key=True)
    client_id = db.Column(db.Integer, db.ForeignKey("clients.id"), nullable=False)
    product_id = db.Column(db.Integer, db.ForeignKey("products.id"), nullable=False)
    location_id = db.Column(db.Integer, db.ForeignKey("locations.id"), nullable=True, default=shop_default_location)
    delta = db.Column(db.Integer, nullable=False)
    stock_after = db.Column(db.Integer, nullable=False)
    reason = db.Column(db.String(16), nullable=False)
    user_id = db.Column(db.Integer, db.ForeignKey("users.id"), nullable=True)
    source = db.Column(db.String(8), nullable=False, default="app", server_default="app")  # MOVEMENT_SOURCES
    note = db.Column(db.String(200), nullable=True)  # e.g. the purchase order a delivery came on
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    def to_dict(self):
        return {
            "id": self.id,
            "product_id": self.product_id,
            "delta": self.delta,
            "stock_after": self.stock_after,
            "reason": self.reason,
            "user_id": self.user_id,
            "source": self.source,
            "note": self.note,
            "created_at": isoformat(self.created_at),
        }


class SalesDaily(db.Model):
    """Units sold per product, place and shop-local day: the forecast's input, written with each
    sale (retail.sales.record_sales) so that no reader sums the raw movements. A sale is a movement
    with reason "sale" and delta < 0; a positive "sale" (a correction) is not counted, as before."""

    __tablename__ = "sales_daily"
    __table_args__ = (
        # One row a place and day; also how a few products' days (a page, a stock change) are read. Not
        # led by the shop: SQLite would then read a shop's whole history by it for the forecast's read.
        db.UniqueConstraint("product_id", "location_id", "sale_date", name="uq_sales_daily_day"),
        # The forecast's read: every product's days in a window for a set of shops, from the index alone.
        db.Index("ix_sales_daily_client_date", "client_id", "sale_date", "product_id", "location_id", "units"),
    )

    id = db.Column(db.Integer, primary_key=True)
    client_id = db.Column(db.Integer, db.ForeignKey("clients.id"), nullable=False)
    product_id = db.Column(db.Integer, db.ForeignKey("products.id"), nullable=False)
    location_id = db.Column(db.Integer, db.ForeignKey("locations.id"), nullable=False)
    sale_date = db.Column(db.Date, nullable=False)  # the shop's local date of the sales
    units = db.Column(db.Integer, nullable=False)


class SalesWindow(db.Model):
    """A shop's windows are current: every `sold_before` of its places and products holds the
    units sold on the `window_days` days before `window_day` (the shop-local date they were rolled
    for). Readers trust the stored windows only when this row names their today and window."""

    __tablename__ = "sales_windows"

    client_id = db.Column(db.Integer, db.ForeignKey("clients.id"), primary_key=True, autoincrement=False)
    window_day = db.Column(db.Date, nullable=False)
    window_days = db.Column(db.Integer, nullable=False)


class IdempotencyKey(db.Model):
    """A request a client may retry (a till's batch): the first answer, kept 24 h per shop and key.
    The UNIQUE (client_id, key) decides which of two concurrent requests applies."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (db.UniqueConstraint("client_id", "key", name="uq_idempotency_keys_key"),
                      db.Index("ix_idempotency_keys_created", "created_at"))

    id = db.Column(db.Integer, primary_key=True)
    client_id = db.Column(db.Integer, db.ForeignKey("clients.id"), nullable=False)
    key = db.Column(db.String(255), nullable=False)
    body_hash = db.Column(db.String(64), nullable=False)
    response = db.Column(db.JSON, nullable=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
