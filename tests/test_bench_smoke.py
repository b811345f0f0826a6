"""The monitor benchmark in quick mode on SQLite, so that it cannot rot unnoticed."""
from bench.monitor_scan import main


def test_monitor_bench_quick_run_counts_the_alerts_it_should():
    lines = []
    result = main(["--quick", "--db", "sqlite"], out=lines.append)
    shape = result["shape"]
    assert shape.expected_alerts == 50 * 10  # 50 shops, every 20th of 200 products low
    first, repeat = result["timings"]
    assert (first.phase, repeat.phase) == ("first", "repeat")
    assert first.new_alerts == [shape.expected_alerts], "\n".join(lines)
    assert first.floor_rows == [shape.expected_alerts], "\n".join(lines)
    assert repeat.new_alerts == [0] and repeat.floor_rows == [0], "\n".join(lines)
    assert first.cycle_writes == first.full_writes  # floor+ still writes what the cycle writes
    assert first.cycle > 0 and first.floor > 0
    peaks = result["peaks"]
    assert [p.first_new for p in peaks] == [p.shape.expected_alerts for p in peaks]
    assert all(p.repeat_new == 0 and p.first_peak > 0 for p in peaks)
    assert any("ratio" in line for line in lines)
