"""What an alert says: the message texts, as pure functions, with their SQL twins beside them
for the set-based scan, so both paths say the same to the letter."""
from sqlalchemy import String, case, cast, func, literal

UNCATEGORIZED = "Uncategorized"


def category_name(category):
    return category or UNCATEGORIZED


def sql_category_name(category_col):
    return func.coalesce(category_col, UNCATEGORIZED)


def out_message(name, stock, category=None, days_left=None):
    return f"Out of Stock: {name} ({category_name(category)})"


def sql_out_message(name_col, stock_col, category_col, days_left=None):
    return literal("Out of Stock: ") + name_col + literal(" (") + sql_category_name(category_col) + literal(")")


def low_message(name, stock, category=None, days_left=None):
    return f"Low Stock Alert: {name} - Only {stock} remaining ({category_name(category)})"


def sql_low_message(name_col, stock_col, category_col, days_left=None):
    return (literal("Low Stock Alert: ") + name_col + literal(" - Only ") + cast(stock_col, String)
            + literal(" remaining (") + sql_category_name(category_col) + literal(")"))


def alert_message(name, stock, category=None):
    """The stock rule's message: out of stock at zero or below, else low."""
    return (out_message if stock <= 0 else low_message)(name, stock, category)


def sql_alert_message(name_col, stock_col, category_col):
    return case((stock_col <= 0, sql_out_message(name_col, stock_col, category_col)),
                else_=sql_low_message(name_col, stock_col, category_col))


def products_url(level="low"):
    return "/retail/products?stock=" + ("out" if level == "out" else "low")
