"""Charts drawn on the server as plain SVG geometry (no JavaScript library, no CDN): a product's
stock over time as a step line with its threshold, and counts per day as bars. Pure functions:
numbers in, coordinates out; the templates draw them."""
from dataclasses import dataclass, field

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 12, 36  # room for the axis labels


@dataclass
class Chart:
    width: int = WIDTH
    height: int = HEIGHT
    path: str = ""  # the stock's step line
    line_left: float = LEFT  # where the line (and the threshold) begins: later for a young product
    bars: list = field(default_factory=list)  # [{x, y, w, h, label, value}]
    threshold_y: float | None = None
    y_ticks: list = field(default_factory=list)  # [(y, label)]
    x_ticks: list = field(default_factory=list)  # [(x, label)]
    plot_left: int = LEFT
    plot_right: int = WIDTH - RIGHT
    plot_bottom: int = HEIGHT - BOTTOM


def _nice_max(value):
    """The smallest 4 x (1, 2 or 5 x 10^n) at or above `value`: four whole, round steps."""
    step = 1
    while True:
        for m in (1, 2, 5):
            if 4 * m * step >= value:
                return 4 * m * step
        step *= 10


def _y_axis(chart, top_value):
    span = chart.plot_bottom - TOP

    def y(value):
        return round(chart.plot_bottom - span * max(value, 0) / top_value, 1)

    chart.y_ticks = [(y(top_value * i / 4), _number(top_value * i / 4)) for i in range(5)]
    return y


def _number(value):
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def stock_chart(start_stock, changes, start, end, threshold=None, ticks=(), begins=None):
    """A step line of stock from `start` (at `start_stock`) through `changes` [(instant, stock
    after)] to `end`, the threshold as a horizontal line; `ticks` [(instant, label)] on the x axis.
    `begins`, when later than `start`, is when the product came to exist: no line before it."""
    chart = Chart()
    seconds = max((end - start).total_seconds(), 1)
    plot_width = chart.plot_right - chart.plot_left

    def x(instant):
        offset = min(max((instant - start).total_seconds(), 0), seconds)
        return round(chart.plot_left + plot_width * offset / seconds, 1)

    values = [start_stock] + [stock for _, stock in changes] + ([threshold] if threshold is not None else [])
    y = _y_axis(chart, _nice_max(max(values)))
    chart.line_left = x(max(start, begins or start))
    parts = [f"M{chart.line_left},{y(start_stock)}"]
    for instant, stock in changes:
        parts.append(f"H{x(instant)}V{y(stock)}")
    parts.append(f"H{x(end)}")
    chart.path = "".join(parts)
    if threshold is not None:
        chart.threshold_y = y(threshold)
    chart.x_ticks = [(x(instant), label) for instant, label in ticks]
    return chart


def bar_chart(days):
    """Bars of counts per day, `days` [(label, count)] oldest first; every 5th day labelled
    (not the last: its label would run past the edge)."""
    chart = Chart()
    y = _y_axis(chart, _nice_max(max([count for _, count in days] or [0])))
    slot = (chart.plot_right - chart.plot_left) / max(len(days), 1)
    for i, (label, count) in enumerate(days):
        left = round(chart.plot_left + slot * i + slot * 0.15, 1)
        top = y(count)
        chart.bars.append({"x": left, "y": top, "w": round(slot * 0.7, 1), "h": round(chart.plot_bottom - top, 1),
                           "label": label, "value": count})
        if i % 5 == 0:
            chart.x_ticks.append((round(left + slot * 0.35, 1), label))
    return chart
