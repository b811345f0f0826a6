"""What an outgoing message says: subjects, plain and HTML bodies of alerts, digests and tests.
Pure functions, no I/O; the outbox fills them from the alert's rows."""
from dataclasses import dataclass

from markupsafe import escape

from ..alerts import kinds, rules

PRODUCTS_PATH = "/retail/products"
STATES = {"out": "Out of stock", "low": "Low stock", "warning": "Running low", "ok": "Back in stock"}


@dataclass(frozen=True)
class AlertItem:
    """One product that alerted, as a message shows it."""

    product: str
    category: str | None
    stock: int
    threshold: int
    kind: str = "low"
    days_left: int | None = None

    @property
    def level(self):
        return kinds.level(self.kind, self.stock)

    @property
    def headline(self):
        return kinds.message(self.kind, self.product, self.stock, self.category, self.days_left)


@dataclass(frozen=True)
class Message:
    subject: str
    body: str
    html_body: str | None = None
    short: str = ""  # the text of a WhatsApp or SMS message


def products_link(public_url, level="low"):
    return public_url.rstrip("/") + rules.products_url(level)


def _html(title, paragraphs, rows=None, link=None):
    parts = [f"<h2>{escape(title)}</h2>"]
    parts += [f"<p>{escape(p)}</p>" for p in paragraphs]
    if rows:
        parts.append('<table cellpadding="4" style="border-collapse:collapse">'
                     "<tr><th align=left>Product</th><th align=left>Category</th>"
                     "<th align=right>Stock</th><th align=right>Threshold</th></tr>")
        for item in rows:
            colour = "#b00020" if item.level == "out" else "#8a5a00"
            parts.append(
                f'<tr style="color:{colour}"><td>{escape(item.product)}</td>'
                f"<td>{escape(item.category or rules.UNCATEGORIZED)}</td>"
                f"<td align=right>{item.stock}</td><td align=right>{item.threshold}</td></tr>")
        parts.append("</table>")
    if link:
        parts.append(f'<p><a href="{escape(link)}">Open the products in Stockbell</a></p>')
    return "<html><body>" + "\n".join(parts) + "</body></html>"


def alert_message(shop, item: AlertItem, public_url) -> Message:
    """One product that just went low or out, for one shop."""
    link = products_link(public_url, item.level)
    state = STATES[item.level]
    subject = f"{state}: {item.product} at {shop}"
    category = item.category or rules.UNCATEGORIZED
    facts = [f"Product: {item.product}", f"Category: {category}", f"Stock: {item.stock}",
             f"Threshold: {item.threshold}"]
    body = "\n".join([item.headline, "", *facts, "", f"Shop: {shop}", f"Products: {link}", ""])
    html = _html(subject, [item.headline, f"Shop: {shop}"], rows=[item], link=link)
    short = f"Stockbell, {shop}: {item.headline}. Threshold {item.threshold}. {link}"
    return Message(subject, body, html, short)


def ordered(items):
    """Out of stock first, then low, running low and back in stock; the lowest stock first, then by name."""
    rank = {level: n for n, level in enumerate(STATES)}
    return sorted(items, key=lambda i: (rank.get(i.level, len(rank)), i.stock, i.product.lower()))


def digest_message(shop, items, local_date, public_url) -> Message:
    """Every product of one shop that alerted since its last digest, in one message."""
    items = ordered(items)
    out = sum(1 for i in items if i.level == "out")
    count = f"{len(items)} product" + ("" if len(items) == 1 else "s")
    subject = f"Stock digest for {shop}, {local_date.isoformat()}: {count}"
    if out:
        subject += f" ({out} out of stock)"
    link = products_link(public_url)
    lines = [f"- {i.headline}; stock {i.stock}, threshold {i.threshold}" for i in items]
    body = "\n".join([f"Products that ran low at {shop} since the last digest:", "", *lines, "",
                      f"Products: {link}", ""])
    html = _html(subject, [f"Products that ran low at {shop} since the last digest:"], rows=items, link=link)
    names = ", ".join(i.product for i in items[:5]) + (f" and {len(items) - 5} more" if len(items) > 5 else "")
    short = f"Stockbell, {shop}: {count} ran low ({out} out of stock): {names}. {link}"
    return Message(subject, body, html, short)


def test_message(shop, channel, public_url) -> Message:
    subject = f"Stockbell test message for {shop}"
    text = (f"This is a test {channel} message from Stockbell for {shop}. "
            "Low-stock alerts will reach this address.")
    link = public_url.rstrip("/") + PRODUCTS_PATH
    body = f"{text}\n\nProducts: {link}\n"
    return Message(subject, body, _html(subject, [text], link=link), f"{text} {link}")
