"""The reorder rule as pure functions, without a database: the reorder point and each branch of
the suggested quantity, rounding to the pack, and money as text."""
from decimal import Decimal

import pytest

from modules.alerts.kinds import reorder_message
from modules.purchasing import rules


def test_reorder_point_is_the_threshold_without_sales_or_supplier():
    assert rules.reorder_point(5, None, 28, 7) == 5
    assert rules.reorder_point(5, 0, 28, 7) == 5
    assert rules.reorder_point(5, 280, 28, None) == 5
    assert rules.reorder_point(5, 280, 28, 0) == 5


def test_reorder_point_covers_the_lead_time_at_the_rate_of_sales_rounded_up():
    assert rules.reorder_point(5, 280, 28, 7) == 70  # 10 a day for 7 days
    assert rules.reorder_point(5, 29, 28, 7) == 8  # 7.25 -> 8
    assert rules.reorder_point(100, 280, 28, 7) == 100  # the threshold when it is higher


def test_suggested_quantity_is_the_reorder_quantity_when_set():
    assert rules.suggested_quantity(45, 0, 70, reorder_quantity=30) == 30
    assert rules.suggested_quantity(45, 0, 70, reorder_quantity=30, max_stock=500) == 30


def test_suggested_quantity_fills_up_to_max_stock_when_set():
    assert rules.suggested_quantity(45, 10, 70, max_stock=120) == 65


def test_suggested_quantity_is_twice_the_reorder_point_less_what_is_there_and_coming():
    assert rules.suggested_quantity(45, 0, 70) == 95
    assert rules.suggested_quantity(45, 20, 70) == 75


@pytest.mark.parametrize("branch", [{"reorder_quantity": None, "max_stock": 10}, {}])
def test_suggested_quantity_is_at_least_one(branch):
    assert rules.suggested_quantity(60, 40, 40, **branch) == 1


def test_suggested_quantity_rounds_up_to_a_multiple_of_the_pack():
    assert rules.suggested_quantity(45, 0, 70, pack_size=12) == 96
    assert rules.suggested_quantity(45, 0, 70, reorder_quantity=24, pack_size=12) == 24
    assert rules.suggested_quantity(45, 0, 70, reorder_quantity=25, pack_size=12) == 36
    assert rules.suggested_quantity(60, 40, 40, pack_size=6) == 6
    assert rules.suggested_quantity(45, 0, 70, pack_size=1) == 95


def test_money_is_a_string_with_two_places():
    assert rules.money(Decimal("3.2")) == "3.20"
    assert rules.money(None) is None
    assert rules.money(0.1 + 0.2) == "0.30"  # what SQLite hands back for a sum


def test_the_reorder_message_to_the_letter():
    assert (reorder_message("Milk", 45, "Dairy", 4, supplier="Dairy Co", lead_time_days=7)
            == "Order Now: Milk - about 4 days left, Dairy Co needs 7 days (Dairy)")
    assert (reorder_message("Milk", 5, None, 1, supplier="Dairy Co", lead_time_days=1)
            == "Order Now: Milk - about 1 day left, Dairy Co needs 1 day (Uncategorized)")
