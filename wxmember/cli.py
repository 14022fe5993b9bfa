"""The `wxmember` command line: the service, the scheduler, and operations tasks.

Commands: serve, scheduler, migrate, makemigrations, create-operator, demo, evaluate-tiers,
run-reminders, keygen.

Configuration errors print one line (`config: database.url: ...`) and exit 2, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import logging
import secrets
import sys
from collections.abc import Callable
from datetime import date

from aiohttp import web

from handlers.operators.accounts import create_operator
from handlers.tiers.growth import evaluate_tiers
from wxmember.app import create_app
from wxmember.core import keys
from wxmember.core.clientaddr import ClientAccessLogger
from wxmember.core.config import (
    Config,
    ConfigError,
    ensure_local_keys,
    generate_data_key,
    load_config,
)
from wxmember.core.db import apply_migrations, model_changes, open_database
from wxmember.core.errors import DomainError
from wxmember.core.log import setup_logging
from wxmember.core.models import Role
from wxmember.demo import run_demo
from wxmember.runner import run_rule_now, run_scheduler, running_services

log = logging.getLogger("wxmember")


def _config(args: argparse.Namespace) -> Config:
    return ensure_local_keys(load_config(args.config))


def cmd_serve(args: argparse.Namespace) -> int:

    config = _config(args)
    if config.database.is_sqlite:
        asyncio.run(apply_migrations(config))
    host = args.host or config.server.host
    port = args.port or config.server.port
    log.info("serving", extra={"host": host, "port": port})
    web.run_app(
        create_app(config),
        host=host,
        port=port,
        print=None,
        access_log=logging.getLogger("aiohttp.access") if config.server.access_log else None,
        access_log_class=ClientAccessLogger,
    )
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:

    asyncio.run(apply_migrations(_config(args)))
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
        asyncio.run(run())
    except DomainError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    print(f"operator {args.username} ({args.role}) created")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:

    return run_demo(host=args.host or "127.0.0.1", port=args.port or 8080, db_path=args.db)


def cmd_evaluate_tiers(args: argparse.Namespace) -> int:

    try:
        period_end = date.fromisoformat(args.period_end) if args.period_end else None
    except ValueError:
        print("error: --period-end must be a date, YYYY-MM-DD", file=sys.stderr)
        return 2
    config = _config(args)

    async def run() -> dict[str, object]:
        async with running_services(config) as app:
            report = await evaluate_tiers(
                app[keys.SERVICES], period_end, dry_run=args.dry_run, batch_size=args.batch_size
            )
        return report.as_dict()

    try:
        result = asyncio.run(run())
    except DomainError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    print(json.dumps(result, ensure_ascii=False))
    return 0


def cmd_scheduler(args: argparse.Namespace) -> int:

    config = _config(args).replace(scheduler={"enabled": True})
    if config.database.is_sqlite:
        asyncio.run(apply_migrations(config))
    asyncio.run(run_scheduler(config))
    return 0


def cmd_run_reminders(args: argparse.Namespace) -> int:

    try:
        day = date.fromisoformat(args.date)
    except ValueError:
        print("error: --date must be a date, YYYY-MM-DD", file=sys.stderr)
        return 2
    try:
        counts = asyncio.run(run_rule_now(_config(args), args.rule, day))
    except DomainError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    print(f"rule {args.rule} on {day.isoformat()}: {sum(counts.values())} reminders")
    for state, count in counts.items():
        print(f"  {state}: {count}")
    return 0


def cmd_keygen(args: argparse.Namespace) -> int:

    print(f'secret_key = "{secrets.token_urlsafe(32)}"')
    print(f'data_key = "{generate_data_key()}"')
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="wxmember", description=__doc__.splitlines()[0])
    parser.add_argument("--config", help="TOML config file (default ./config.toml if present)")
    parser.add_argument("--log-level", default="INFO")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the HTTP service")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
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
    demo.add_argument("--host")
    demo.add_argument("--port", type=int)
    demo.add_argument("--db", default="wxmember-demo.db", help="SQLite file for the demo")
    demo.set_defaults(run=cmd_demo)

    evaluate = commands.add_parser(
        "evaluate-tiers", help="judge tier retention for a closed period (idempotent, resumable)"
    )
    evaluate.add_argument("--period-end", help="YYYY-MM-DD (default: the latest closed period)")
    evaluate.add_argument("--dry-run", action="store_true", help="report, change nothing")
    evaluate.add_argument("--batch-size", type=int, default=1000)
    evaluate.set_defaults(run=cmd_evaluate_tiers)

    commands.add_parser(
        "scheduler", help="run the scheduler alone (one leader among several, by a Redis lease)"
    ).set_defaults(run=cmd_scheduler)

    reminders = commands.add_parser(
        "run-reminders", help="run one reminder rule for a day now and print the outcome"
    )
    reminders.add_argument("--rule", type=int, required=True, help="reminder rule id")
    reminders.add_argument("--date", required=True, help="the send day, YYYY-MM-DD")
    reminders.set_defaults(run=cmd_run_reminders)

    commands.add_parser("keygen", help="print fresh security keys").set_defaults(run=cmd_keygen)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args.log_level.upper())
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
