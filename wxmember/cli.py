"""The `wxmember` command: serve, migrate, create-operator, demo, keygen.

Configuration errors print one line (`config: database.url: ...`) and exit 2, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import sys
from collections.abc import Callable

from aiohttp import web

from wxmember.config import Config, ConfigError, ensure_local_keys, generate_data_key, load_config
from wxmember.log import setup_logging

log = logging.getLogger("wxmember")


def _config(args: argparse.Namespace) -> Config:
    return ensure_local_keys(load_config(args.config))


def cmd_serve(args: argparse.Namespace) -> int:
    from wxmember.app import create_app
    from wxmember.db import apply_migrations

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
    )
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from wxmember.db import apply_migrations

    asyncio.run(apply_migrations(_config(args)))
    print("migrations applied")
    return 0


def cmd_makemigrations(args: argparse.Namespace) -> int:
    from wxmember.db import model_changes

    written = asyncio.run(model_changes(_config(args), write=True))
    print("\n".join(written) if written else "no model changes")
    return 0


def cmd_create_operator(args: argparse.Namespace) -> int:
    from handlers.operators import create_operator
    from wxmember.db import open_database
    from wxmember.errors import DomainError
    from wxmember.models import Role

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
    from wxmember.demo import run_demo

    return run_demo(host=args.host or "127.0.0.1", port=args.port or 8080, db_path=args.db)


def cmd_keygen(args: argparse.Namespace) -> int:
    import secrets

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
