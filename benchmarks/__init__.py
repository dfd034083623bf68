"""Benchmarks of the series; run them as scripts, e.g. ``python benchmarks/attention.py --smoke``."""
