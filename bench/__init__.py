"""Benchmarks of the service: `python -m bench run SCENARIO` (see bench/README.md)."""
