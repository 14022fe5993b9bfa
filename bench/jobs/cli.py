"""`python -m bench.jobs`: run the job benchmarks and print their figures."""

from __future__ import annotations

import argparse
import asyncio
import shlex
import sys
from datetime import date
from pathlib import Path

from bench.jobs.context import Sizes
from bench.jobs.report import measured
from bench.jobs.runner import BENCHMARKS, Outcome, run_benchmark
from bench.jobs.setup import (
    DEFAULT_DATABASE_URL,
    DEFAULT_REDIS_URL,
    PLAN_CACHE_MODES,
    REPORTS_DIR,
    RunSettings,
    database_name,
)


def _options(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--members", type=int, help="members to seed (default per benchmark)")
    add("--lots", type=int, help="points lots to seed (points-expiry)")
    add("--batch-size", type=int, default=1000)
    add("--below-share", type=float, default=0.3, help="tiers: upper-tier share below retention")
    add("--due-share", type=float, default=0.2, help="points-expiry: share of lots due")
    add(
        "--at-once",
        type=int,
        help="points-expiry: batches side by side (default points.expiry_batches_at_once)",
    )
    add("--day", type=date.fromisoformat, help="birthdays: the local send day (default today)")
    add("--history-years", type=int, default=1, help="birthdays: past years the rule delivered")
    add("--ledger", type=int, help="dashboard: points entries to seed (default 10,000,000)")
    add("--history-days", type=int, default=365, help="dashboard: days of history up to now")
    add("--repeats", type=int, default=5, help="dashboard: times each read is measured")
    add("--plan-cache-mode", choices=PLAN_CACHE_MODES, help="set for the job's database sessions")
    add("--database-url", default=DEFAULT_DATABASE_URL, help="dropped and created on every run")
    add("--redis-url", default=DEFAULT_REDIS_URL)
    add("--reports-dir", type=Path, default=REPORTS_DIR)
    add("--tracemalloc", action="store_true", help="trace allocations (slows the job down)")
    add("--seed", type=int, default=20261125, help="random seed of the data")
    add("--quiet", action="store_true", help="no progress lines")


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m bench.jobs", description=__doc__)
    commands = root.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="the benchmarks")
    run = commands.add_parser("run", help="run one benchmark")
    run.add_argument("benchmark", choices=sorted(BENCHMARKS))
    _options(run)
    every = commands.add_parser("all", help="run every benchmark at its default size")
    _options(every)
    return root


def print_outcome(outcome: Outcome) -> None:
    report = outcome.report
    seeding = report["seeding"]
    load = report["load_average"]["job start"]
    print(f"\n== {report['benchmark']} ({report['started_at']}, load at job start {load})")
    print(
        f"seeding (not measured): schema {seeding['schema_seconds']} s, COPY "
        f"{seeding['seed_seconds']} s, vacuum analyze {seeding['vacuum_analyze_seconds']} s"
    )
    for key, value in report["headline"].items():
        print(f"  {key:32} {value:,}" if isinstance(value, int) else f"  {key:32} {value}")
    for key, value in measured(report["job"]).items():
        print(f"  {key:46} {value}")
    verdict = "all passed" if report["verification"]["ok"] else "FAILED"
    print(f"checks: {verdict}")
    for name, check in report["verification"]["checks"].items():
        if not check["ok"]:
            print(f"  FAILED {name}: expected {check['expected']}, got {check['actual']}")
    print(f"report: {outcome.files[0]}  {outcome.files[1]}")


async def _main(args: argparse.Namespace, argv: list[str]) -> int:
    sizes = Sizes(
        args.members,
        args.lots,
        args.batch_size,
        args.below_share,
        args.due_share,
        args.day,
        args.history_years,
        args.ledger,
        args.history_days,
        args.repeats,
        args.at_once,
    )
    names = [args.benchmark] if args.command == "run" else list(BENCHMARKS)
    failed = 0
    for name in names:
        run = RunSettings(
            database_url=args.database_url,
            redis_url=args.redis_url,
            reports_dir=args.reports_dir,
            tracemalloc=args.tracemalloc,
            random_seed=args.seed,
            progress=not args.quiet,
            plan_cache_mode=args.plan_cache_mode,
            command="python -m bench.jobs " + shlex.join(argv),
        )
        outcome = await run_benchmark(name, sizes, run)
        print_outcome(outcome)
        failed += 0 if outcome.report["verification"]["ok"] else 1
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parser().parse_args(argv)
    if args.command == "list":
        for name, module in BENCHMARKS.items():
            print(f"{name:14} {(module.__doc__ or '').strip().splitlines()[0]}")
        return 0
    try:
        database_name(args.database_url)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return asyncio.run(_main(args, argv))
