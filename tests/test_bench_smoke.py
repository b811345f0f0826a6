"""The benchmarks in quick mode on SQLite, so that they cannot rot unnoticed."""
import shutil

import pytest

from bench.monitor_scan import main


def test_monitor_bench_quick_run_counts_the_alerts_it_should():
    lines = []
    result = main(["--quick", "--db", "sqlite"], out=lines.append)
    report = "\n".join(lines)
    shape = result["shape"]
    assert shape.expected_alerts == 50 * 10  # 50 shops, every 20th of 200 products low
    first, repeat = result["timings"]
    assert (first.phase, repeat.phase) == ("first", "repeat")
    assert first.new_alerts == [shape.expected_alerts], report
    assert first.floor_rows == [shape.expected_alerts], report
    assert repeat.new_alerts == [0] and repeat.floor_rows == [0], report
    assert first.cycle_writes == first.full_writes  # floor+ still writes what the cycle writes
    # An outbox row per low alert and address: email in all 50 shops, SMS in every fourth (12).
    assert first.cycle_writes["deliveries"] == shape.expected_deliveries == (50 + 12) * 10, report
    assert first.cycle > 0 and first.floor > 0
    peaks = result["peaks"]
    assert [p.first_new for p in peaks] == [p.shape.expected_alerts for p in peaks]
    assert all(p.repeat_new == 0 and p.first_peak > 0 for p in peaks)
    assert any("ratio" in line for line in lines)


def test_monitor_bench_quick_run_counts_the_forecast_alerts_it_should():
    lines = []
    result = main(["--quick", "--db", "sqlite", "--no-memory"], out=lines.append)
    report = "\n".join(lines)
    shape = result["shape"]
    # Every 10th of a shop's 200 products (k % 10 == 1, never one of the low k % 20 == 0) sold ten
    # times its stock in the window: 28 // 10 = 2 days left <= 3. The rest sold 30 units: 9+ days.
    assert shape.sale_movements == 50 * 200 * 30
    assert shape.expected_forecast_alerts == 50 * 20
    first, repeat = result["timings"]
    # 10 low products a shop, stock 0..5: those at 0 alert as `out`, the rest as `low`.
    [alerts] = first.on_alerts
    assert alerts["low"] + alerts["out"] == 50 * 10 and alerts["out"] > 0 and alerts["forecast"] == 50 * 20, report
    assert repeat.on_alerts == [{}], report  # everything already logged today, whatever the kind
    assert first.forecast_rule_rows == [50 * 20] and repeat.forecast_rule_rows == [0], report
    assert first.low_rule_rows == [alerts["low"]] and repeat.low_rule_rows == [0], report
    assert first.new_alerts == [50 * 10], report  # with the forecast off, the low alerts only
    assert first.cycle_on > 0 and first.forecast_rule > 0
    ratio_lines = [line for line in lines if line.startswith("forecast on/off")]
    assert len(ratio_lines) == 1, report
    for timing in (first, repeat):
        assert f"sqlite {timing.phase} {timing.cycle_on / timing.cycle:.2f}x" in ratio_lines[0], report


def test_monitor_bench_quick_run_at_three_locations_compares_as_many_stock_rows_at_one():
    lines = []
    result = main(["--quick", "--db", "sqlite", "--no-memory", "--locations", "3", "--movements", "0"],
                  out=lines.append)
    report = "\n".join(lines)
    shape, one = result["shape"], result["shape"].one_location()
    assert (shape.locations, shape.places, one.products, one.locations) == (3, 600, 600, 1)
    assert shape.expected_alerts == one.expected_alerts == 50 * 30  # every 20th of 600 places a shop low
    assert shape.stock(0) == shape.place_stock(0) + shape.place_stock(1) + shape.place_stock(2)
    for timings in (result["timings"], result["one_location"]):
        first, repeat = timings
        assert first.new_alerts == [shape.expected_alerts] and first.floor_rows == [shape.expected_alerts], report
        assert repeat.new_alerts == [0] and repeat.floor_rows == [0], report
        assert first.cycle_writes == first.full_writes, report
        assert first.cycle_writes["deliveries"] == shape.expected_deliveries, report
    ratio_lines = [line for line in lines if line.startswith("cycle at 3 locations / at one")]
    assert len(ratio_lines) == 1 and "sqlite first" in ratio_lines[0] and "sqlite repeat" in ratio_lines[0], report


@pytest.mark.skipif(not shutil.which("wrk"), reason="wrk is not installed")
def test_pages_bench_quick_run_measures_every_page_it_names():
    from bench.pages import main as pages_main

    lines = []
    results = pages_main(["--quick", "--db", "sqlite", "--only", "dashboard", "api/products low"],
                         out=lines.append)
    report = "\n".join(lines)
    measured = results["sqlite"]
    assert set(measured) == {"hello-world", "dashboard", "api/products low"}, report
    for name, (rate, p50, p99, errors, alone) in measured.items():
        assert rate > 0 and p99 >= p50 > 0 and errors == 0 and alone > 0, report
    assert "x" in report and "api/products low" in report


def test_growth_bench_measures_each_size_with_the_forecast_off_and_on():
    from bench.growth import main as growth_main

    lines = []
    rows = growth_main(["--sizes", "1000", "2000", "--db", "sqlite"], out=lines.append)
    assert [(r["database"], r["products"]) for r in rows] == [("sqlite", 1000), ("sqlite", 2000)]
    # 5% low and 10% selling fast (2 days left): the first cycle with the forecast on raises both.
    assert [r["alerts"] for r in rows] == [150, 300]
    assert all(min(r["off"] + r["on"]) > 0 and r["peak_mb"] > 0 for r in rows)
    assert any(line.startswith("sqlite          2,000") for line in lines)
