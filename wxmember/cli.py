"""The `wxmember` command line: the service, the scheduler, and operations tasks.

Commands: serve, scheduler, migrate, makemigrations, create-operator, demo, evaluate-tiers,
score-rfm, pay-benefits, import-members, run-reminders, partitions, keygen, openapi.
`--config FILE` and `--log-level LEVEL` go before or after the command.

Configuration errors print one line (`config: database.url: ...`) and exit 2, never a traceback.
On SQLite a command that finds the database locked by another process (the server, a job) waits
for it (`database.busy_timeout_seconds`) and starts again a few times; if it still cannot
proceed it prints one line and exits 75 (EX_TEMPFAIL: try again later).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import logging
import secrets
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine
from datetime import date
from pathlib import Path
from typing import Any, Protocol, TypeVar

from aiohttp import web
from tortoise.transactions import in_transaction

from handlers import member_import
from handlers.benefits import pay_birthday_gifts, pay_monthly_coupons
from handlers.operators.accounts import create_operator, operator_by_username
from handlers.segments import run_rfm
from handlers.tiers.growth import evaluate_tiers
from wxmember import apidocs
from wxmember.app import create_app
from wxmember.core import keys, partitioning
from wxmember.core.clientaddr import ClientAccessLogger
from wxmember.core.config import (
    Config,
    ConfigError,
    ensure_local_keys,
    generate_data_key,
    load_config,
)
from wxmember.core.context import Services
from wxmember.core.db import apply_migrations, is_database_locked, model_changes, open_database
from wxmember.core.errors import DomainError, NotFound, ValidationFailed
from wxmember.core.localtime import local_today
from wxmember.core.log import setup_logging
from wxmember.core.models import Role
from wxmember.demo import run_demo
from wxmember.runner import run_rule_now, run_scheduler, running_services
from wxmember.serving import for_serving, new_event_loop

log = logging.getLogger("wxmember")

T = TypeVar("T")
LOCKED_ATTEMPTS = 4
LOCKED_BACKOFF_SECONDS = 0.5
EXIT_LOCKED = 75  # EX_TEMPFAIL
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


class DatabaseLocked(Exception):
    """Another process kept the SQLite database locked through every attempt."""


class Reported(Protocol):
    """A job's report, printed as JSON."""

    def as_dict(self) -> dict[str, Any]: ...


def _config(args: argparse.Namespace) -> Config:
    return ensure_local_keys(load_config(args.config))


def _run(config: Config, command: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a command's coroutine; on SQLite, start it again while the database is locked.

    Every command run through here is safe to start again: its writes are transactions that a
    lock error rolls back, and what committed before is found and kept (idempotent keys).
    """
    attempts = LOCKED_ATTEMPTS if config.database.is_sqlite else 1
    for attempt in range(1, attempts + 1):
        try:
            return asyncio.run(command())
        except Exception as exc:
            if not is_database_locked(exc):
                raise
            if attempt == attempts:
                raise DatabaseLocked() from exc
            log.warning("database is locked; starting again", extra={"attempt": attempt})
            time.sleep(LOCKED_BACKOFF_SECONDS * 2 ** (attempt - 1))
    raise AssertionError("unreachable")


def cmd_serve(args: argparse.Namespace) -> int:

    config = _config(args)
    if config.database.is_sqlite:
        _run(config, lambda: apply_migrations(config))
    host = args.host or config.server.host
    port = args.port or config.server.port
    log.info("serving", extra={"host": host, "port": port})
    web.run_app(
        for_serving(create_app(config)),
        host=host,
        port=port,
        loop=new_event_loop(),
        print=None,
        backlog=config.server.backlog,
        access_log=logging.getLogger("aiohttp.access") if config.server.access_log else None,
        access_log_class=ClientAccessLogger,
    )
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:

    config = _config(args)
    _run(config, lambda: apply_migrations(config))
    print("migrations applied")
    return 0


def cmd_makemigrations(args: argparse.Namespace) -> int:

    written = asyncio.run(model_changes(_config(args), write=True))
    print("\n".join(written) if written else "no model changes")
    return 0


def cmd_create_operator(args: argparse.Namespace) -> int:

    config = _config(args)
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else getpass.getpass()

    async def run() -> None:
        async with open_database(config):
            await create_operator(args.username, password, Role(args.role), args.display_name)

    try:
        _run(config, run)
    except DomainError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    print(f"operator {args.username} ({args.role}) created")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:

    # The demo's own database and keys: no ensure_local_keys() on the configured database.
    return run_demo(load_config(args.config), host=args.host, port=args.port, db_path=args.db)


def cmd_evaluate_tiers(args: argparse.Namespace) -> int:

    async def evaluate(services: Services) -> Reported:
        async with services.members.recording_changes():
            return await evaluate_tiers(
                services, args.period_end, dry_run=args.dry_run, batch_size=args.batch_size
            )

    return _print_report(_config(args), evaluate)


def cmd_score_rfm(args: argparse.Namespace) -> int:

    async def score(services: Services) -> Reported:
        return await run_rfm(services, args.date, batch_size=args.batch_size)

    return _print_report(_config(args), score)


def cmd_pay_benefits(args: argparse.Namespace) -> int:

    pays = pay_birthday_gifts if args.benefit == "birthday" else pay_monthly_coupons

    async def pay(services: Services) -> Reported:
        async with services.members.recording_changes():
            return await pays(services, args.date, batch_size=args.batch_size)

    return _print_report(_config(args), pay)


def cmd_import_members(args: argparse.Namespace) -> int:

    path = Path(args.file)
    errors = Path(args.errors) if args.errors else path.with_name(f"{path.stem}.errors.csv")

    async def run(services: Services) -> Reported:
        actor = await operator_by_username(args.operator)
        if actor is None or not actor.active:
            raise NotFound(f"No active staff account {args.operator!r}.", code="operator_not_found")
        source = member_import.source_from_path(path)
        record = await member_import.import_members(
            services, actor, source, batch_size=args.batch_size
        )
        report = member_import.import_view(record)
        if await member_import.write_problems(record, errors):
            report["errors_file"] = str(errors)
        return _Report(report)

    if not path.is_file():
        print(f"error: no file {path}", file=sys.stderr)
        return 1
    return _print_report(_config(args), run)


class _Report:
    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values

    def as_dict(self) -> dict[str, Any]:
        return self.values


def _print_report(config: Config, work: Callable[[Services], Awaitable[Reported]]) -> int:
    """Run a job's work with the services up and print its report as JSON; 1 on a refusal."""

    async def run() -> dict[str, object]:
        async with running_services(config) as app:
            report = await work(app[keys.SERVICES])
        return report.as_dict()

    try:
        result = _run(config, run)
    except DomainError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    print(json.dumps(result, ensure_ascii=False))
    return 0


def _day(value: str) -> date:
    """An option's YYYY-MM-DD, refused by argparse (exit 2) otherwise."""
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError("must be a date, YYYY-MM-DD") from None


def cmd_scheduler(args: argparse.Namespace) -> int:

    config = _config(args).replace(scheduler={"enabled": True})
    if config.database.is_sqlite:
        _run(config, lambda: apply_migrations(config))
    asyncio.run(run_scheduler(config))
    return 0


def cmd_run_reminders(args: argparse.Namespace) -> int:

    day: date = args.date
    config = _config(args)
    try:
        counts = _run(config, lambda: run_rule_now(config, args.rule, day))
    except DomainError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    print(f"rule {args.rule} on {day.isoformat()}: {sum(counts.values())} reminders")
    for state, count in counts.items():
        print(f"  {state}: {count}")
    return 0


def cmd_partitions(args: argparse.Namespace) -> int:

    async def run(services: Services) -> Reported:
        if services.config.database.is_sqlite:
            return _Report({"partitioned": False})
        today = local_today(services)
        async with in_transaction() as conn:
            report: dict[str, Any] = {"created": await partitioning.ensure_months(conn, today)}
            if args.detach:
                table, month = args.detach
                report["detached"] = await partitioning.detach_month(
                    conn, table, _month(month), today
                )
            report["tables"] = await partitioning.overview(conn)
        return _Report(report)

    return _print_report(_config(args), run)


def _month(value: str) -> date:
    try:
        return date.fromisoformat(f"{value}-01")
    except ValueError:
        raise ValidationFailed("month: YYYY-MM", code="invalid_month") from None


def cmd_keygen(args: argparse.Namespace) -> int:

    print(f'secret_key = "{secrets.token_urlsafe(32)}"')
    print(f'data_key = "{generate_data_key()}"')
    return 0


def cmd_openapi(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if args.check:
        baseline = apidocs.committed(args.against, out) if args.against else out
        problems = apidocs.breaking_changes(baseline)
        for problem in problems:
            print(f"breaking: {problem}", file=sys.stderr)
        if problems:
            print(
                "a breaking change needs the document's version bumped (API_VERSION in "
                "miniapp_api/routes.py or admin/routes.py)",
                file=sys.stderr,
            )
            return 1
        stale = apidocs.stale(out)
        for path in stale:
            print(f"{path}: stale; run `{apidocs.COMMAND} --out {out}`", file=sys.stderr)
        return 1 if stale else 0
    for path in apidocs.write(out):
        print(path)
    return 0


def _common_options(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """`--config` and `--log-level`, before the command or after it.

    After the command their default is "not given", so that they never overwrite a value given
    before it.
    """
    parser.add_argument(
        "--config",
        default=None if top else argparse.SUPPRESS,
        help="TOML config file (default $WXMEMBER_CONFIG, else ./config.toml if present)",
    )
    parser.add_argument(
        "--log-level",
        type=str.upper,
        choices=LOG_LEVELS,
        default="INFO" if top else argparse.SUPPRESS,
        help="log level (default INFO)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wxmember", description=__doc__.splitlines()[0])
    _common_options(parser, top=True)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the HTTP service")
    serve.add_argument("--host", help="default: server.host")
    serve.add_argument("--port", type=int, help="default: server.port")
    serve.set_defaults(run=cmd_serve)

    commands.add_parser("migrate", help="apply pending database migrations").set_defaults(
        run=cmd_migrate
    )

    commands.add_parser(
        "makemigrations", help="write migrations for model changes (development)"
    ).set_defaults(run=cmd_makemigrations)

    create = commands.add_parser("create-operator", help="create an admin or cashier account")
    create.add_argument("--username", required=True)
    create.add_argument("--role", choices=["owner", "operator", "cashier"], required=True)
    create.add_argument("--display-name", default="")
    create.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    create.set_defaults(run=cmd_create_operator)

    demo = commands.add_parser("demo", help="seed a sample brand and serve it with a fake WeChat")
    demo.add_argument("--host", help="default: server.host")
    demo.add_argument("--port", type=int, help="default: server.port")
    demo.add_argument("--db", default="wxmember-demo.db", help="SQLite file for the demo")
    demo.set_defaults(run=cmd_demo)

    evaluate = commands.add_parser(
        "evaluate-tiers", help="judge tier retention for a closed period (idempotent, resumable)"
    )
    evaluate.add_argument(
        "--period-end", type=_day, help="YYYY-MM-DD (default: the latest closed period)"
    )
    evaluate.add_argument("--dry-run", action="store_true", help="report, change nothing")
    evaluate.add_argument("--batch-size", type=int, default=1000)
    evaluate.set_defaults(run=cmd_evaluate_tiers)

    rfm = commands.add_parser(
        "score-rfm", help="score members' RFM for a local day (idempotent, resumable)"
    )
    rfm.add_argument("--date", type=_day, help="YYYY-MM-DD (default: today)")
    rfm.add_argument("--batch-size", type=int, default=None, help="default: rfm.batch_size")
    rfm.set_defaults(run=cmd_score_rfm)

    benefits = commands.add_parser(
        "pay-benefits",
        help="pay tier birthday gifts for a day or monthly coupons for a month (idempotent)",
    )
    benefits.add_argument("benefit", choices=("birthday", "monthly"))
    benefits.add_argument(
        "--date", type=_day, help="YYYY-MM-DD: the birthday, or a day of the month (default: today)"
    )
    benefits.add_argument("--batch-size", type=int, default=500)
    benefits.set_defaults(run=cmd_pay_benefits)

    imports = commands.add_parser(
        "import-members",
        help="import members from another system's CSV (idempotent, resumable)",
    )
    imports.add_argument("file", help="the CSV file (UTF-8 or GB18030, with a header row)")
    imports.add_argument("--operator", required=True, help="the staff account it is audited as")
    imports.add_argument("--errors", help="where the refused rows go (default: FILE.errors.csv)")
    imports.add_argument("--batch-size", type=int, default=500)
    imports.set_defaults(run=cmd_import_members)

    commands.add_parser(
        "scheduler", help="run the scheduler alone (one leader among several, by a Redis lease)"
    ).set_defaults(run=cmd_scheduler)

    reminders = commands.add_parser(
        "run-reminders", help="run one reminder rule for a day now and print the outcome"
    )
    reminders.add_argument("--rule", type=int, required=True, help="reminder rule id")
    reminders.add_argument("--date", type=_day, required=True, help="the send day, YYYY-MM-DD")
    reminders.set_defaults(run=cmd_run_reminders)

    partitions = commands.add_parser(
        "partitions",
        help="PostgreSQL: list the monthly partitions, make the months ahead, detach an old one",
    )
    partitions.add_argument(
        "--detach",
        nargs=2,
        metavar=("TABLE", "YYYY-MM"),
        help="detach a past month's partition, to archive and drop it",
    )
    partitions.set_defaults(run=cmd_partitions)

    commands.add_parser("keygen", help="print fresh security keys").set_defaults(run=cmd_keygen)

    openapi = commands.add_parser(
        "openapi", help="write the OpenAPI documents of /api/v1 and /admin/api/v1"
    )
    openapi.add_argument("--out", default=str(apidocs.DEFAULT_OUT), help="default: docs/openapi")
    openapi.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if the files are stale"
    )
    openapi.add_argument(
        "--against",
        metavar="REV",
        help="with --check: compare with the documents committed at this git revision "
        "(say, the branch a change goes into) instead of the files in --out",
    )
    openapi.set_defaults(run=cmd_openapi)
    for command in commands.choices.values():
        _common_options(command, top=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args.log_level)
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except DatabaseLocked:
        print(
            f"error: the database is locked by another process (tried {LOCKED_ATTEMPTS} times); "
            "try again later",
            file=sys.stderr,
        )
        return EXIT_LOCKED
    except KeyboardInterrupt:
        return 130
