"""The alert kinds registry. A kind's whole meaning is its `Kind` entry: the set-based rule that
says which products alert today, its message (in Python and in SQL, to the letter), its level,
the words every reader shows (label, subject, digest line, badge, preference label), its priority
and who hears it by default. The bell, the channels, the digest and the pages read these; adding a
kind is a `register(Kind(...))` (see the README, "Adding an alert kind")."""
from dataclasses import dataclass
from typing import Callable

from sqlalchemy import String, and_, case, cast, exists, false, func, literal, or_, select
from sqlalchemy.orm import aliased

from ..auth.models import Client, NotificationSettings
from ..extensions import db
from ..purchasing import rules as purchasing_rules
from ..purchasing.models import PurchaseOrderLine, Supplier
from ..purchasing.service import on_order
from ..retail import rules as stock_rules
from ..retail.locations import sql_active_places as active_places, sql_place as place_suffix
from ..retail import windows
from ..retail.models import Location, Product, ProductStock, SalesDaily
from ..retail.sales import DEFAULT_WINDOW_DAYS, units_sold, window_first_day
from . import rules
from .models import StockAlert, StockAlertLog

PRIORITIES = ("critical", "important", "normal")  # at once; coalesced; batched (API.md, "Priority")


@dataclass(frozen=True)
class Kind:
    name: str
    rule: Callable  # (Scan) -> a list of SELECTs of scan.LOG_COLUMNS (empty when off)
    message: Callable  # (name, stock, category, days_left) -> str, to the letter
    sql_message: Callable  # the same over columns
    level: str  # "out", "low", "warning", "ok", or a level of the kind's own
    label: str  # the state's name: "Out of stock"; the subject of a one-alert message starts with it
    preference_label: str  # the choice on My preferences
    badge: str  # the bell's short word
    digest_line: str  # what the digest says of such a product: "out of stock since the last digest"
    priority: str = "normal"  # one of PRIORITIES
    staff_default: bool = True  # whether staff hear it when they never chose their kinds
    opens_episode: bool = False  # whether it opens (or follows) the product's alert episode
    # The kind a digest lists a product under when it is no longer low: low and out ones were
    # restocked since; the others still say what they said.
    when_restocked: str | None = None
    action_url: Callable = None  # (product_id column) -> where the notification leads
    webhook_kind: str | None = None  # the webhook's `kind`; the name when None
    # What else `message` says beyond (name, stock, category, days_left): (product_id column) ->
    # {keyword: SQL expression}, read when a message is written (the supplier of a reorder).
    detail: Callable = None

    @property
    def event(self):
        return self.webhook_kind or self.name


def product_url(product_id):
    return literal("/retail/products/") + cast(product_id, String) + literal("/edit")


# --- the rules: each extends Scan.candidates(), the places that may alert in this scan ---------
# A place is a product at one location; `scan.stock` is its stock there.

def _logged_today(scan, *kinds):
    """Whether this place raised any of `kinds` today (by the log's UNIQUE key, which leads with the
    shop: without it SQLite scans the whole log for every candidate)."""
    kind = StockAlertLog.kind == kinds[0] if len(kinds) == 1 else StockAlertLog.kind.in_(kinds)
    return exists().where(StockAlertLog.client_id == ProductStock.client_id,
                          StockAlertLog.product_id == ProductStock.product_id,
                          StockAlertLog.location_id == ProductStock.location_id, kind,
                          StockAlertLog.alert_date == scan.alert_date)


def _at_place(sub):
    """The join of a per-place subquery (client_id, product_id, location_id, ...) to the place."""
    return and_(sub.c.product_id == ProductStock.product_id, sub.c.location_id == ProductStock.location_id,
                sub.c.client_id == ProductStock.client_id)


def _sold_at_place(sales):
    """The join of the window's sales (already limited to the shops in scope) to the place. A
    product id names its shop, so the shop is left out: PostgreSQL multiplies each column's
    selectivity, and with the shop too it expected one row of 100,000, chose nested loops and took
    21 s instead of 3 s (1,000 shops x 100 products)."""
    return and_(sales.c.product_id == ProductStock.product_id, sales.c.location_id == ProductStock.location_id)


def out_rule(scan):
    """Active and at zero or below."""
    return [scan.candidates(scan.stock, scan.threshold, literal(None)).where(scan.stock <= 0)]


def low_rule(scan):
    """Active, above zero and at or below the effective threshold, and not out earlier today
    (a place partly restocked after running out raises no `low` that day)."""
    threshold = scan.threshold
    # The log is looked up only for the places at or below their threshold: as a term of its own,
    # the databases look it up for every place before the threshold's tables are joined (SQLite:
    # 0.17 s instead of 0.11 s for a repeat scan of 300,000 places).
    return [scan.candidates(scan.stock, threshold, literal(None))
            .where(scan.stock > 0, case((scan.stock <= threshold, ~_logged_today(scan, "out")), else_=false()))]


def _window_sales(scan, stale_shops, window):
    """How a rule reads the units sold in the window at each place, as [(units, sales, which)]:
    the stored windows (retail.windows) for the shops rolled today for `window` days, and the
    rollup (a subquery `sales` to join) for the others in `stale_shops` (a SELECT of shop ids,
    filtered here), when there are any. `which` limits a rule's SELECT to its shops."""
    current = windows.current_shops(scan.alert_date, window)
    paths = [(windows.units(ProductStock, scan.alert_date), None, ProductStock.client_id.in_(current))]
    stale = stale_shops.where(stale_shops.selected_columns[0].not_in(current))
    if db.session.execute(stale.limit(1)).first() is not None:
        first_day = window_first_day(scan.timezone, window, scan.now)
        sales = units_sold(first_day, SalesDaily.client_id.in_(stale), scan.product_ids, by_location=True)
        paths.append((sales.c.units, sales, ProductStock.client_id.not_in(current)))
    return paths


def _with_sales(stmt, sales):
    return stmt if sales is None else stmt.join(sales, _sold_at_place(sales))


def forecast_rule(scan):
    """Not low, sold in the shop's window, and days_left <= forecast_days, and no `reorder` today
    (that says more): per window length in use in this time zone (almost always one: the
    default 28 days)."""
    selects = []
    for window in scan.forecast_windows():
        shops = scan.shops().where(NotificationSettings.forecast_days > 0,
                                   NotificationSettings.forecast_window_days == window)
        for units, sales, which in _window_sales(scan, shops, window):
            days = stock_rules.sql_days_left(scan.stock, units, window)
            threshold = scan.threshold
            stmt = (_with_sales(scan.candidates(scan.stock, threshold, days), sales)
                    .where(which, NotificationSettings.forecast_days > 0,
                           NotificationSettings.forecast_window_days == window, units > 0,
                           scan.stock > threshold, days <= NotificationSettings.forecast_days,
                           # logged today already (a repeat cycle's every candidate): left at the
                           # place's first index probe, before its joins and the INSERT's conflict
                           ~_logged_today(scan, "reorder", "forecast")))
            if sales is not None:
                selects.append(stmt)
                continue
            # Stored windows: days_left <= F means stock / units < (F + 1) / window, so only the
            # places whose cover is that short are read (by its index), one statement per F in use.
            for horizon in db.session.execute(shops.with_only_columns(NotificationSettings.forecast_days)
                                              .distinct()).scalars():
                selects.append(stmt.where(NotificationSettings.forecast_days == horizon,
                                          windows.short_cover(ProductStock, horizon, window)))
    return selects


def reorder_rule(scan):
    """A supplier with a lead time, sales in the shop's window, not low, stock + on order at or
    below the reorder point, and days_left <= the lead time: order now, or run out before the
    delivery comes. An order sent for it counts as on order, so it stops."""
    # Only shops with a supplier that takes time: the sales of the others are never read.
    buying = exists().where(Supplier.client_id == Client.id, Supplier.lead_time_days > 0)
    shops = select(Client.id).where(Client.timezone == scan.timezone, buying)
    if scan.client_id is not None:
        shops = shops.where(Client.id == scan.client_id)
    if db.session.execute(shops.limit(1)).first() is None:
        return []
    window_col = func.coalesce(NotificationSettings.forecast_window_days, DEFAULT_WINDOW_DAYS)
    windows_in_use = set(db.session.execute(scan.shops().with_only_columns(
        NotificationSettings.forecast_window_days).distinct()).scalars()) | {DEFAULT_WINDOW_DAYS}
    ordered = on_order(PurchaseOrderLine.client_id.in_(shops), by_location=True)
    incoming = func.coalesce(ordered.c.units, 0)
    selects = []
    for window in sorted(windows_in_use):
        with_window = (shops.outerjoin(NotificationSettings, NotificationSettings.client_id == Client.id)
                       .where(window_col == window))
        for units, sales, which in _window_sales(scan, with_window, window):
            days = stock_rules.sql_days_left(scan.stock, units, window)
            point = purchasing_rules.sql_reorder_point(scan.threshold, units, window, Supplier.lead_time_days)
            selects.append(
                _with_sales(scan.candidates(scan.stock, point, days)
                            .join(Supplier, and_(Supplier.id == Product.supplier_id,
                                                 Supplier.client_id == Product.client_id)), sales)
                .outerjoin(ordered, _at_place(ordered))
                .where(which, window_col == window, units > 0,
                       Supplier.lead_time_days > 0, scan.stock > scan.threshold,
                       scan.stock + incoming <= point, days <= Supplier.lead_time_days))
    return selects


def restocked_rule(scan):
    """An open low episode at a place whose stock there rose above its effective threshold (and
    above the stock it alerted at): the scan closes that episode right after, so this rings once."""
    if not scan.any_shop(NotificationSettings.notify_restocked.is_(True)):
        return []  # one indexed look-up instead of a scan when no shop in scope wants it
    threshold = scan.threshold
    rose = exists().where(StockAlert.product_id == ProductStock.product_id,
                          StockAlert.location_id == ProductStock.location_id, StockAlert.resolved_at.is_(None),
                          scan.stock > StockAlert.stock_at_alert)
    return [scan.candidates(scan.stock, threshold, literal(None))
            .where(NotificationSettings.notify_restocked.is_(True), scan.stock > threshold, rose)]


# --- the messages ------------------------------------------------------------------------------

def forecast_message(name, stock, category, days_left):
    days = "day" if days_left == 1 else "days"
    return f"Running Low: {name} - about {days_left} {days} left ({rules.category_name(category)})"


def sql_forecast_message(name, stock, category, days_left):
    days = case((days_left == 1, literal(" day left (")), else_=literal(" days left ("))
    return (literal("Running Low: ") + name + literal(" - about ") + cast(days_left, String) + days
            + rules.sql_category_name(category) + literal(")"))


def _days(n, one, many):
    return f"{n} {one if n == 1 else many}"


def reorder_message(name, stock, category, days_left, supplier=None, lead_time_days=None):
    """`supplier` and `lead_time_days` come from the kind's `detail` (the product's supplier now)."""
    return (f"Order Now: {name} - about {_days(days_left, 'day', 'days')} left, {supplier or 'the supplier'} "
            f"needs {_days(lead_time_days or 0, 'day', 'days')} ({rules.category_name(category)})")


def reorder_detail(product_id):
    """The product's supplier and its lead time, for the message. The product is read under an
    alias: were it `products`, SQLAlchemy would correlate it with an enclosing query's `products`
    at one level and not at the next (products.id = products.id: the shop's first product's supplier)."""
    product = aliased(Product)
    supplier = select(Supplier).join(product, product.supplier_id == Supplier.id).where(product.id == product_id)
    return {"supplier": supplier.with_only_columns(Supplier.name).scalar_subquery(),
            "lead_time_days": supplier.with_only_columns(Supplier.lead_time_days).scalar_subquery()}


def _sql_days(n_col, one, many):
    return cast(n_col, String) + case((n_col == 1, literal(" " + one)), else_=literal(" " + many))


def sql_reorder_message(name, stock, category, days_left):
    """The message over columns; the supplier is the product's (`products` is in the FROM)."""
    supplier = select(Supplier.name, Supplier.lead_time_days).where(Supplier.id == Product.supplier_id)
    supplier_name = supplier.with_only_columns(Supplier.name).scalar_subquery()
    lead = supplier.with_only_columns(Supplier.lead_time_days).scalar_subquery()
    return (literal("Order Now: ") + name + literal(" - about ") + _sql_days(days_left, "day", "days")
            + literal(" left, ") + supplier_name + literal(" needs ") + _sql_days(lead, "day", "days")
            + literal(" (") + rules.sql_category_name(category) + literal(")"))


def restocked_message(name, stock, category, days_left=None):
    return f"Back in Stock: {name} - {stock} in stock ({rules.category_name(category)})"


def sql_restocked_message(name, stock, category, days_left):
    return (literal("Back in Stock: ") + name + literal(" - ") + cast(stock, String) + literal(" in stock (")
            + rules.sql_category_name(category) + literal(")"))


# --- the registry --------------------------------------------------------------------------------

KINDS = {}


def register(kind):
    """Add a kind (after the others: its rule runs last in a scan). Returns it."""
    if kind.priority not in PRIORITIES:
        raise ValueError(f"{kind.name}: priority must be one of {PRIORITIES}")
    KINDS[kind.name] = kind
    return kind


def unregister(name):
    KINDS.pop(name, None)


register(Kind("low", low_rule, rules.low_message, rules.sql_low_message, level="low", label="Low stock",
              preference_label="Low stock", badge="Low", digest_line="low", priority="important",
              opens_episode=True, when_restocked="restocked",
              action_url=lambda product_id: literal(rules.products_url("low"))))
register(Kind("out", out_rule, rules.out_message, rules.sql_out_message, level="out", label="Out of stock",
              preference_label="Out of stock", badge="Out", digest_line="out of stock", priority="critical",
              opens_episode=True, when_restocked="restocked",
              action_url=lambda product_id: literal(rules.products_url("out"))))
# Before forecast: a product that raised `reorder` today raises no `forecast` that day.
register(Kind("reorder", reorder_rule, reorder_message, sql_reorder_message, level="warning", label="Order now",
              preference_label="Time to reorder (supplier's lead time)", badge="Order",
              digest_line="to order now", priority="normal", staff_default=False, action_url=product_url,
              detail=reorder_detail))
register(Kind("forecast", forecast_rule, forecast_message, sql_forecast_message, level="warning",
              label="Running low", preference_label="Running low soon (forecast)", badge="Soon",
              digest_line="running low soon", action_url=product_url))
register(Kind("restocked", restocked_rule, restocked_message, sql_restocked_message, level="ok",
              label="Back in stock", preference_label="Back in stock", badge="Back",
              digest_line="back in stock", action_url=product_url))


def get(name):
    """The kind named `name`; an unknown name (a row from a kind since removed) reads as `low`."""
    return KINDS.get(name) or KINDS["low"]


def names():
    return tuple(KINDS)


def default_kinds(role):
    """The kinds a person hears when they never chose: every kind, but staff only the staff kinds."""
    return [k.name for k in KINDS.values() if k.staff_default or role != "staff"]


def message(kind, name, stock, category, days_left=None, place="", **detail):
    """The kind's message, and `place` after it (" at Uptown" in a shop of several locations)."""
    return get(kind).message(name, stock, category, days_left, **detail) + (place or "")


def message_details(alerts):
    """{(kind, product_id): detail} for the (kind, product_id) pairs whose kind says more than
    (name, stock, category, days_left): one query per such kind."""
    out = {}
    for name, kind in KINDS.items():
        ids = sorted({product_id for k, product_id in alerts if k == name})
        if kind.detail is None or not ids:
            continue
        columns = kind.detail(Product.id)
        rows = db.session.execute(select(Product.id, *(c.label(k) for k, c in columns.items()))
                                  .where(Product.id.in_(ids)))
        out.update({(name, row[0]): dict(zip(columns, row[1:])) for row in rows})
    return out


def _by_kind(kind_col, build):
    return case(*((kind_col == name, build(k)) for name, k in KINDS.items()), else_=build(KINDS["low"]))


def sql_message(kind_col, name, stock, category, days_left, place=None):
    """message() over columns; `place` the SQL of what follows the text (see sql_log_place)."""
    text = _by_kind(kind_col, lambda k: k.sql_message(name, stock, category, days_left))
    return text if place is None else text + place


def sql_log_place():
    """What a logged alert's message says of its place: " at <name>" when its shop has two or
    more active locations, else nothing (`locations` joined on the log's location_id)."""
    return place_suffix(Location.name, active_places(StockAlertLog.client_id))


def sql_level(kind_col):
    return _by_kind(kind_col, lambda k: literal(k.level))


def sql_action_url(kind_col, product_id):
    return _by_kind(kind_col, lambda k: k.action_url(product_id) if k.action_url else product_url(product_id))


def hears(kind, role, chosen):
    """Whether a person hears `kind`: the kinds they chose (",low,out,"), else their role's defaults."""
    if chosen is None:
        return kind in default_kinds(role)
    return f",{kind}," in chosen


def sql_hears(kind_col, role_col, chosen_col):
    """hears() over columns: the kind, the person's role and their chosen kinds (null: never chose)."""
    staff_kinds = [k.name for k in KINDS.values() if k.staff_default]
    by_role = or_(role_col != "staff", kind_col.in_(staff_kinds))
    return or_(and_(chosen_col.is_(None), by_role), chosen_col.contains("," + kind_col + ","))
