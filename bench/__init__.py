"""Benchmarks: `python -m bench` (see README). Not tests: nothing here asserts a time."""
