"""The stock rule and the message texts, as pure functions; and their SQL twins agree with them."""
import pytest
from sqlalchemy import literal, select

from modules.alerts import rules
from modules.retail import rules as stock_rules


@pytest.mark.parametrize("stock, threshold, status", [
    (6, 5, "ok"), (5, 5, "low"), (1, 5, "low"), (0, 5, "out"), (-3, 5, "out"), (0, 0, "out"), (1, 0, "ok"),
])
def test_stock_status_at_the_edges(stock, threshold, status):
    assert stock_rules.stock_status(stock, threshold) == status


def test_effective_threshold_prefers_the_products_own():
    assert stock_rules.effective_threshold(None, 5) == 5
    assert stock_rules.effective_threshold(12, 5) == 12
    assert stock_rules.effective_threshold(0, 5) == 0


def test_messages_to_the_letter():
    assert rules.alert_message("Milk", 0, "Dairy") == "Out of Stock: Milk (Dairy)"
    assert rules.alert_message("Milk", -2, None) == "Out of Stock: Milk (Uncategorized)"
    assert rules.alert_message("Milk", 3, "Dairy") == "Low Stock Alert: Milk - Only 3 remaining (Dairy)"
    assert rules.alert_message("Milk", 3, None) == "Low Stock Alert: Milk - Only 3 remaining (Uncategorized)"


@pytest.mark.parametrize("name, stock, category", [
    ("Milk", 3, "Dairy"), ("Crème brûlée ☕", 0, None), ("O'Brien's \"best\" <b>", -1, "Sweets"), ("X", 5, None),
])
def test_sql_message_matches_python_message(app, name, stock, category):
    from modules.extensions import db

    expr = rules.sql_alert_message(literal(name), literal(stock), literal(category))
    assert db.session.execute(select(expr)).scalar_one() == rules.alert_message(name, stock, category)
    level = db.session.execute(select(stock_rules.sql_level(literal(stock)))).scalar_one()
    assert level == ("out" if stock <= 0 else "low")
