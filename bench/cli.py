"""`python -m bench`: run a scenario against the baseline and the service, or list scenarios.

    python -m bench list
    python -m bench run healthz [--backend sqlite|postgres] [--connections 64] [--duration 10]
                                [--warmup 2] [--workers 1] [--generator auto|wrk|python]
                                [--requests N] [--env WXMEMBER_SECTION_KEY=value ...]
    python -m bench setup-werobot [--venv PATH]

Prints the side-by-side table and the paths of the report files. Exit status 2 for bad usage,
1 when the run fails (the message names the step and shows the end of the failing log) or when
the scenario's check of the database after the run fails (the report is written all the same).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import shlex
import sys
from pathlib import Path

from asyncpg import PostgresError
from redis.exceptions import RedisError
from tortoise.exceptions import BaseORMException

from bench.harness import DEFAULT_POSTGRES_URL, DEFAULT_REPORTS_DIR, RunOptions, run_benchmark
from bench.load import GENERATOR_CHOICES
from bench.processes import ProcessFailed
from bench.report import render_table
from bench.scenarios import SCENARIOS
from bench.werobot import DEFAULT_VENV, setup_werobot

DATABASE_URL_ENV = "WXMEMBER_BENCH_DATABASE_URL"
# a step of the run failed: one line (plus the failing log's tail), no traceback
RUN_FAILURES = (
    ProcessFailed,
    RuntimeError,
    OSError,
    ValueError,
    RedisError,
    PostgresError,
    BaseORMException,
)
# set by the harness for every run; --env may not change them
HARNESS_SETTINGS = frozenset(
    {
        "WXMEMBER_DATABASE_URL",
        "WXMEMBER_REDIS_URL",
        "WXMEMBER_SECURITY_SECRET_KEY",
        "WXMEMBER_SECURITY_DATA_KEY",
        "WXMEMBER_SCHEDULER_ENABLED",
        "WXMEMBER_WECHAT_API_BASE",
    }
)


def _workers_refused(workers: int, backend: str) -> str | None:
    """Why `--workers` cannot run here, or None."""
    if importlib.util.find_spec("gunicorn") is None:
        return "--workers runs the service under gunicorn, which is not installed (see README)"
    if workers > 1 and backend != "postgres":
        return (
            "--workers above 1 needs --backend postgres: the SQLite file and the in-process "
            "Redis stand-in belong to one process"
        )
    return None


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, got {text}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, got {text}")
    return value


def _setting(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.startswith("WXMEMBER_"):
        raise argparse.ArgumentTypeError(f"expected WXMEMBER_SECTION_KEY=value, got {text!r}")
    if name in HARNESS_SETTINGS:
        raise argparse.ArgumentTypeError(f"{name} is set by the harness")
    return name, value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="list the scenarios")
    run = commands.add_parser("run", help="run one scenario")
    run.add_argument("scenario")
    run.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    run.add_argument("--connections", type=_positive_int, default=64)
    run.add_argument("--duration", type=_positive_float, default=10.0, help="seconds measured")
    run.add_argument("--warmup", type=float, default=2.0, help="seconds of load not measured")
    run.add_argument(
        "--workers",
        type=_positive_int,
        default=None,
        help="run the service as production does: gunicorn with N aiohttp workers "
        "(default: one `wxmember serve` process); more than 1 needs --backend postgres",
    )
    run.add_argument("--generator", choices=GENERATOR_CHOICES, default="auto")
    run.add_argument(
        "--database-url",
        default=os.environ.get(DATABASE_URL_ENV, ""),
        help=f"PostgreSQL database, dropped and created again (env {DATABASE_URL_ENV}; "
        f"default {DEFAULT_POSTGRES_URL})",
    )
    run.add_argument(
        "--redis-url",
        default=None,
        help="Redis for the service (default: in-process stand-in on sqlite, "
        "redis://127.0.0.1:56379/15 on postgres, flushed before the run)",
    )
    run.add_argument(
        "--flush-redis",
        action="store_true",
        help="flush the --redis-url database before the run (it is not otherwise: sold-out "
        "flags, deduplication keys and stamps of an earlier run would stay)",
    )
    run.add_argument(
        "--requests",
        type=_positive_int,
        default=None,
        help="send exactly N requests and stop (Python generator, no warm-up) instead of "
        "loading for --duration",
    )
    run.add_argument(
        "--env",
        type=_setting,
        action="append",
        default=[],
        metavar="WXMEMBER_SECTION_KEY=VALUE",
        help="a setting of the service, e.g. WXMEMBER_COUPONS_REDIS_PRECHECK=false (repeatable)",
    )
    run.add_argument("--reports-dir", type=Path, default=DEFAULT_REPORTS_DIR)
    werobot = commands.add_parser(
        "setup-werobot", help="build the WeRoBot + gunicorn environment the bot scenarios compare"
    )
    werobot.add_argument("--venv", type=Path, default=DEFAULT_VENV)
    return parser


def _list() -> int:
    width = max(len(name) for name in SCENARIOS)
    for name, scenario in sorted(SCENARIOS.items()):
        print(f"{name.ljust(width)}  {scenario.description}")
    return 0


def _run(args: argparse.Namespace, argv: list[str]) -> int:
    if args.workers is not None:
        refused = _workers_refused(args.workers, args.backend)
        if refused:
            print(refused, file=sys.stderr)
            return 2
    if args.requests is not None and args.generator == "wrk":
        print("--requests needs the Python generator; wrk runs for a duration", file=sys.stderr)
        return 2
    if args.scenario not in SCENARIOS:
        print(f"unknown scenario {args.scenario!r}; see `python -m bench list`", file=sys.stderr)
        return 2
    options = RunOptions(
        scenario=args.scenario,
        backend=args.backend,
        connections=args.connections,
        duration=args.duration,
        warmup=max(0.0, args.warmup),
        database_url=args.database_url,
        redis_url=args.redis_url,
        flush_redis=args.flush_redis,
        generator=args.generator,
        reports_dir=args.reports_dir,
        command=shlex.join(["python", "-m", "bench", *argv]),
        requests=args.requests,
        service_env=tuple(args.env),
        workers=args.workers,
    )
    try:
        outcome = asyncio.run(run_benchmark(options))
    except RUN_FAILURES as exc:
        print(f"bench: failed: {exc}", file=sys.stderr)
        return 1
    print(render_table(outcome.report))
    for note in outcome.report.notes:
        print(f"note: {note}")
    print(f"report: {outcome.files[0]}  {outcome.files[1]}")
    if outcome.failed_check is not None:
        print(f"bench: check failed: {outcome.failed_check}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    if args.command == "list":
        return _list()
    if args.command == "setup-werobot":
        return setup_werobot(args.venv)
    return _run(args, argv)
