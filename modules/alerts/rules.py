"""What an alert says: the message texts, as pure functions, with their SQL twins beside them
for the set-based scan, so both paths say the same to the letter."""
from sqlalchemy import String, case, cast, func, literal

UNCATEGORIZED = "Uncategorized"


def alert_message(name, stock, category=None):
    category = category or UNCATEGORIZED
    if stock <= 0:
        return f"Out of Stock: {name} ({category})"
    return f"Low Stock Alert: {name} - Only {stock} remaining ({category})"


def products_url(level="low"):
    return "/retail/products?stock=" + ("out" if level == "out" else "low")


def sql_alert_message(name_col, stock_col, category_col):
    category = func.coalesce(category_col, UNCATEGORIZED)
    return case(
        (stock_col <= 0, literal("Out of Stock: ") + name_col + literal(" (") + category + literal(")")),
        else_=literal("Low Stock Alert: ") + name_col + literal(" - Only ")
        + cast(stock_col, String) + literal(" remaining (") + category + literal(")"),
    )


def sql_products_url(stock_col):
    return case((stock_col <= 0, literal(products_url(level="out"))), else_=literal(products_url()))
