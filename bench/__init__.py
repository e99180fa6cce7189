"""Benchmarks with their targets: `python -m bench` runs them all and prints each figure."""
