"""What an outgoing message says. An outbox row carries a payload (an alert, a digest, a test);
`Notice` is one message built from one or more payloads (a burst of alerts goes as one), and
each channel renders it: mail from the Jinja templates under templates/delivery/messages/, text
channels as one short line."""
from dataclasses import asdict, dataclass, field

from flask import current_app
from markupsafe import escape
from sqlalchemy import String, case, cast, func, literal, literal_column, null

from ..alerts import kinds, rules
from ..alerts.models import StockAlertLog
from ..auth.models import Client
from ..dialect import as_json, json_array, json_object
from ..retail.models import Category, Location, Product
from ..timeutil import isoformat, shop_time

PRODUCTS_PATH = "/retail/products"


def one_line(text):
    """A header or a short message: no CR, LF or other control characters, spaces collapsed."""
    return " ".join("".join(c if c.isprintable() else " " for c in str(text)).split())


@dataclass(frozen=True)
class AlertItem:
    """One product that alerted, as a message shows it."""

    product: str
    category: str | None
    stock: int
    threshold: int
    kind: str = "low"
    days_left: int | None = None
    product_id: int | None = None
    sku: str | None = None
    detail: dict | None = None  # what the kind's message says beyond these (Kind.detail)
    raised_at: str | None = None  # ISO 8601: when the alert was raised, the moment `stock` is of
    place: str = ""  # what the message says of its place: " at Uptown" in a shop of several locations
    location: dict | None = None  # {id, name}
    suggestion: dict | None = None  # transfer before you buy: {from_location: {id, name}, spare}

    def raised_local(self, tz_name):
        """When the alert was raised, in the shop's time zone ("2026-12-05 09:12 CET"), or ''."""
        return shop_time(self.raised_at, tz_name or "UTC") if self.raised_at else ""

    @property
    def kind_entry(self):
        return kinds.get(self.kind)

    @property
    def level(self):
        return self.kind_entry.level

    @property
    def state(self):
        return self.kind_entry.label

    @property
    def category_name(self):
        return self.category or rules.UNCATEGORIZED

    @property
    def headline(self):
        return kinds.message(self.kind, self.product, self.stock, self.category, self.days_left, place=self.place,
                             **(self.detail or {}))

    def url(self, public_url):
        """Straight to the product when known, else the list of products in its state."""
        base = public_url.rstrip("/")
        if self.product_id:
            return f"{base}{PRODUCTS_PATH}/{self.product_id}/edit"
        return base + rules.products_url(self.level)

    def to_json(self):
        return asdict(self)


def ordered(items):
    """The most urgent first (the kinds' priority, then their order in the registry), the lowest
    stock first, then by name."""
    names = kinds.names()
    rank = {name: (kinds.PRIORITIES.index(kinds.get(name).priority), n) for n, name in enumerate(names)}
    return sorted(items, key=lambda i: (rank.get(i.kind, (len(kinds.PRIORITIES), 0)), i.stock, i.product.lower()))


def legacy_item(item):
    """An item queued before `out` was a kind of its own (a `low` one at zero) reads as `out`."""
    if item.get("kind", "low") == "low" and item.get("stock", 1) <= 0:
        return {**item, "kind": "out"}
    return item


@dataclass(frozen=True)
class Notice:
    """One message: "alerts" (one or a burst), "digest" (a day's products), "test", or
    "purchase_order" (an order to a supplier: `order` holds what the mail shows)."""

    type: str
    shop_id: int
    shop: str
    items: tuple = field(default_factory=tuple)
    date: str | None = None  # the digest's shop-local date
    channel: str | None = None  # what a test message tests
    created_at: str | None = None
    log_id: int | None = None  # the alert, when this is one alert
    legacy: dict | None = None  # a row queued before payloads: its subject, body and html_body
    order: dict | None = None  # a purchase order: number, supplier, reply_to, lines, total_cost, currency
    timezone: str | None = None  # the shop's, for the times a message shows

    @classmethod
    def from_payloads(cls, payloads):
        """The message for one or more rows to one recipient (several only for alerts)."""
        first = payloads[0]
        # An alert's item is of its row's moment (rows queued before items carried it: the row's).
        items = ordered(AlertItem(**{**({"raised_at": p.get("created_at")} if p["type"] == "alerts" else {}),
                                     **legacy_item(i)})
                        for p in payloads for i in p.get("items", ()))
        return cls(type=first["type"], shop_id=first["shop"]["id"], shop=first["shop"]["name"], items=tuple(items),
                   timezone=first["shop"].get("timezone"),
                   date=first.get("date"), channel=first.get("channel"), created_at=first.get("created_at"),
                   log_id=first.get("log_id") if len(payloads) == 1 else None,
                   legacy=({k: first.get(k) for k in ("subject", "body", "html_body")}
                           if first["type"] == "legacy" else None),
                   order=first.get("order"))

    def payload(self):
        shop = {"id": self.shop_id, "name": self.shop, **({"timezone": self.timezone} if self.timezone else {})}
        out = {"type": self.type, "shop": shop,
               "items": [i.to_json() for i in self.items], "created_at": self.created_at}
        for key in ("date", "channel", "log_id", "order"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out

    @property
    def out_count(self):
        return sum(1 for i in self.items if i.level == "out")

    @property
    def subject(self):
        shop, items = one_line(self.shop), self.items
        if self.legacy:
            return one_line(self.legacy["subject"] or "Stockbell")
        if self.type == "test":
            return f"Stockbell test message for {shop}"
        if self.type == "purchase_order":
            return one_line(f"Purchase order {self.order['number']} from {shop}")
        count = f"{len(items)} product" + ("" if len(items) == 1 else "s")
        out = f" ({self.out_count} out of stock)" if self.out_count else ""
        if self.type == "digest":
            return f"Stock digest for {shop}, {self.date}: {count}{out}"
        if len(items) == 1:
            return one_line(f"{items[0].state}: {items[0].product} at {shop}")
        return f"{count} need attention at {shop}{out}"

    def link(self, public_url):
        if self.type == "alerts" and len(self.items) == 1:
            return self.items[0].url(public_url)
        level = "out" if self.out_count else "low"
        return public_url.rstrip("/") + (rules.products_url(level) if self.items else PRODUCTS_PATH)


# --- one alert's outbox row, written in SQL (outbox.enqueue_alert_deliveries) ---------------------
# Over stock_alert_log joined to its product, the product's category (outer) and the shop (clients):
# the same subject and payload as message_row(..., Notice("alerts", ..., (AlertItem(...),), log_id=...)).

def _by_kind(kind_col, value):
    return case(*((kind_col == name, value(k)) for name, k in kinds.KINDS.items()), else_=value(kinds.get("")))


def sql_alert_subject(kind_col, product_col, shop_col):
    """Notice.subject of one alert ("Low stock: Milk at Corner Shop"), at most 255 characters: the
    deliveries page's words. one_line() is left out: names are one line already (fields.text
    refuses line breaks and control characters, and trims), and the page is HTML, where a run
    of spaces shows as one. The message itself is rendered from the payload when sent."""
    label = _by_kind(kind_col, lambda k: literal(k.label))
    return func.substr(label + literal(": ") + product_col + literal(" at ") + shop_col, 1, 255)


def sql_alert_detail(kind_col):
    """AlertItem.detail: the kind's `detail` as a JSON object for the kinds that have one, else null."""
    said = [(name, k) for name, k in kinds.KINDS.items() if k.detail is not None]
    if not said:
        return null()
    # The alert's product by name, not as Product.id: a kind's detail may read `products` in a
    # subquery of a subquery, where SQLAlchemy would correlate Product.id with that inner
    # `products` (products.id = products.id: any product's supplier) instead of this row's.
    product_id = literal_column(f"{StockAlertLog.__tablename__}.{StockAlertLog.product_id.key}")
    return as_json(case(*((kind_col == name, json_object(*k.detail(product_id).items())) for name, k in said),
                        else_=null()))


def sql_alert_payload(now):
    """Notice.payload() of one alert, as JSON built by the database."""
    log = StockAlertLog
    item = json_object(("product", Product.name), ("category", Category.name), ("stock", log.stock_level),
                       ("threshold", log.threshold_level), ("kind", log.kind), ("days_left", log.days_left),
                       ("product_id", Product.id), ("sku", Product.sku), ("detail", sql_alert_detail(log.kind)),
                       ("place", kinds.sql_log_place()),
                       ("location", json_object(("id", Location.id), ("name", Location.name))),
                       ("suggestion", as_json(log.suggestion)))
    return json_object(("type", cast(literal("alerts"), String)),
                       ("shop", json_object(("id", Client.id), ("name", Client.name), ("timezone", Client.timezone))),
                       ("items", json_array(item)), ("created_at", cast(literal(isoformat(now)), String)),
                       ("log_id", log.id))


def email_bodies(notice, public_url, recipient, unsubscribe_url=None):
    """(plain text, HTML) of an email, from the templates."""
    if notice.legacy:
        return notice.legacy["body"] or "", notice.legacy["html_body"] or str(escape(notice.legacy["body"] or ""))
    context = {"notice": notice, "public_url": public_url.rstrip("/"), "link": notice.link(public_url),
               "recipient": recipient, "unsubscribe_url": unsubscribe_url}
    # The app's Jinja environment without its context processors: no request here (the dispatcher).
    env = current_app.jinja_env
    return (env.get_template("delivery/messages/email.txt").render(**context),
            env.get_template("delivery/messages/email.html").render(**context))


def short_text(notice, public_url):
    """A WhatsApp, SMS, Slack or Telegram message: one line, the headline(s) and a link."""
    shop, link = one_line(notice.shop), notice.link(public_url)
    if notice.legacy:
        return one_line(notice.legacy["body"] or notice.subject)[:600]
    if notice.type == "test":
        return (f"This is a test {notice.channel} message from Stockbell for {shop}. "
                f"Low-stock alerts will reach this address. {link}")
    items = notice.items
    if notice.type == "alerts" and len(items) == 1:
        item = items[0]
        return one_line(f"Stockbell, {shop}: {item.headline}. Threshold {item.threshold}. {link}")
    names = ", ".join(one_line(i.product) for i in items[:5]) + (f" and {len(items) - 5} more" if len(items) > 5 else "")
    what = "since the last digest" if notice.type == "digest" else "need attention"
    return f"Stockbell, {shop}: {len(items)} products {what} ({kind_counts(items)}): {names}. {link}"


def kind_counts(items):
    """"1 out of stock, 2 low": how many items of each kind, in the words of each kind's digest line."""
    counts = {}
    for item in items:
        counts[item.kind] = counts.get(item.kind, 0) + 1
    return ", ".join(f"{n} {kinds.get(kind).digest_line}" for kind, n in counts.items())
