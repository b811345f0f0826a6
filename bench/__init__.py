"""Benchmarks: `python bench/<name>.py`; each also has a quick mode the test suite runs."""
