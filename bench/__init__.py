"""Benchmarks: `python bench/monitor_scan.py` and `python bench/dispatch.py` (the other modules are their parts)."""
