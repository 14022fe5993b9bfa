"""Benchmarks of the scheduled jobs on PostgreSQL at scale: `python -m bench.jobs`.

Each benchmark builds a fresh database with the real migrations, seeds it with COPY, runs one
job in a child process of its own (so the seeding does not count in its peak memory), checks
the outcome against what was seeded, and writes a markdown and a JSON report.
"""
