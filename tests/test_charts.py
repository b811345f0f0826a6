"""The server-drawn charts (modules/retail/charts.py): pure geometry, no database."""
from datetime import datetime, timedelta

from modules.retail import charts

START = datetime(2026, 11, 1)
END = START + timedelta(days=30)


def test_stock_line_steps_at_each_change_and_ends_at_now():
    chart = charts.stock_chart(10, [(START + timedelta(days=15), 2)], START, END, threshold=5)
    left, right, bottom = chart.plot_left, chart.plot_right, chart.plot_bottom
    middle = (left + right) / 2
    top_value = 20  # the axis rounds 10 up to 4 whole steps of 5
    y10 = round(bottom - (bottom - charts.TOP) * 10 / top_value, 1)
    y2 = round(bottom - (bottom - charts.TOP) * 2 / top_value, 1)
    assert chart.path == f"M{float(left)},{y10}H{round(middle, 1)}V{y2}H{float(right)}"
    assert chart.threshold_y == round(bottom - (bottom - charts.TOP) * 5 / top_value, 1)
    assert [label for _, label in chart.y_ticks] == ["0", "5", "10", "15", "20"]


def test_axis_labels_are_whole_numbers_whatever_the_maximum():
    for top in (0, 1, 3, 7, 13, 99, 1234, 987654):
        chart = charts.bar_chart([("d", top)])
        labels = [label for _, label in chart.y_ticks]
        assert all(label.isdigit() for label in labels), (top, labels)
        assert int(labels[-1]) >= top


def test_changes_outside_the_window_are_clamped_to_its_edges():
    chart = charts.stock_chart(0, [(START - timedelta(days=3), 4), (END + timedelta(days=1), 6)], START, END)
    xs = [float(part.split("V")[0]) for part in chart.path.split("H")[1:-1]]
    assert xs == [chart.plot_left, chart.plot_right]


def test_bars_one_per_day_with_every_fifth_labelled():
    days = [(f"{i:02d} Nov", i % 3) for i in range(1, 31)]
    chart = charts.bar_chart(days)
    assert [bar["value"] for bar in chart.bars] == [count for _, count in days]
    assert all(bar["h"] >= 0 and bar["y"] + bar["h"] == chart.plot_bottom for bar in chart.bars)
    assert [label for _, label in chart.x_ticks] == ["01 Nov", "06 Nov", "11 Nov", "16 Nov", "21 Nov", "26 Nov"]
    assert charts.bar_chart([("only", 0)]).bars[0]["h"] == 0


def test_a_product_younger_than_the_window_has_no_line_before_it_existed():
    born = START + timedelta(days=20)
    chart = charts.stock_chart(0, [(born, 12)], START, END, threshold=5, begins=born)
    x_born = round(chart.plot_left + (chart.plot_right - chart.plot_left) * 20 / 30, 1)
    assert chart.path.startswith(f"M{x_born},") and chart.line_left == x_born
    assert charts.stock_chart(0, [(born, 12)], START, END).path.startswith(f"M{float(chart.plot_left)},")
