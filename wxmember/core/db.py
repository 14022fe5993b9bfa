"""The database: Tortoise ORM set up from config, migrations applied with Tortoise's own tools."""

from __future__ import annotations

import logging
import pkgutil
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

import asyncpg
from tortoise import Tortoise
from tortoise import context as tortoise_context
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.backends.base.executor import EXECUTOR_CACHE
from tortoise.exceptions import ConfigurationError
from tortoise.migrations.api import migrate

from wxmember.core.config import Config, DatabaseConfig

if TYPE_CHECKING:
    from asyncpg import Connection
    from tortoise.context import TortoiseContext

log = logging.getLogger(__name__)

MIGRATIONS_MODULE = "wxmember.core.migrations"
SQLITE_ENGINE = "wxmember.core.sqlite"


def model_modules() -> list[str]:
    """Every module of the `wxmember.core.models` package: one per capability."""
    import wxmember.core.models as package

    names = sorted(info.name for info in pkgutil.iter_modules(package.__path__))
    return [f"{package.__name__}.{name}" for name in names]


def _connection(config: DatabaseConfig) -> str | dict[str, Any]:
    url = config.url
    sep = "&" if "?" in url else "?"
    if config.is_sqlite:
        # Every setting in a SQLite URL's query becomes a PRAGMA; Tortoise adds journal_mode=WAL,
        # so readers never wait for a writer and writers wait for each other this long.
        if "busy_timeout=" not in url:
            url = f"{url}{sep}busy_timeout={round(config.busy_timeout_seconds * 1000)}"
        sqlite = expand_db_url(url)
        sqlite["engine"] = SQLITE_ENGINE  # counts a statement's own rows, not its triggers'
        return sqlite
    if url.startswith(("postgres://", "postgresql://")):
        url = "asyncpg://" + url.split("://", 1)[1]
    if not url.startswith("asyncpg://"):
        return url
    if "maxsize=" not in url:
        url = f"{url}{sep}minsize=1&maxsize={config.pool_max}"
    settings = expand_db_url(url)
    settings["credentials"]["reset"] = keep_session
    settings["credentials"].setdefault("timeout", config.connect_timeout_seconds)
    return settings


async def keep_session(connection: Connection) -> None:
    """What the pool does to a connection given back, after asyncpg rolled back any open
    transaction: nothing more.

    asyncpg's default reset (`pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL`) is a
    round trip on every release, which is every statement run outside a transaction. The
    service leaves nothing for it to undo: no session settings, cursors, LISTEN or session-level
    advisory locks (the tier ladder's lock is transaction-scoped).
    """


def tortoise_config(config: Config, *, replica: bool = True) -> dict[str, Any]:
    """The Tortoise config dict for this service (one app, `models`), with the read replica
    and its router when `database.read_url` names one."""
    connections = {"default": _connection(config.database)}
    replica_settings = config.database.replica() if replica else None
    if replica_settings is not None:
        connections[REPLICA] = _connection(replica_settings)
    return {
        "connections": connections,
        "apps": {
            "models": {
                "models": model_modules(),
                "default_connection": "default",
                "migrations": MIGRATIONS_MODULE,
            }
        },
        "routers": [ReportReads] if replica_settings is not None else [],
        "use_tz": True,
        "timezone": "UTC",
    }


# Reports may read a replica: a few seconds behind the primary is nothing to a chart of days,
# and their long scans leave the primary to the members. Nothing else reads there: a request
# that has just written expects to read its write.
REPLICA = "replica"
_REPORTING: ContextVar[bool] = ContextVar("wxmember_reporting", default=False)


@contextmanager
def reports() -> Iterator[None]:
    """Reads of models in the block go to the read replica, when there is one."""
    token = _REPORTING.set(True)
    try:
        yield
    finally:
        _REPORTING.reset(token)


class ReportReads:
    """Tortoise's router: a report's model reads to the replica; everything else unrouted."""

    def db_for_read(self, model: type) -> str | None:
        return REPLICA if _REPORTING.get() else None

    def db_for_write(self, model: type) -> str | None:
        return None


def reading_connection() -> BaseDBAsyncClient:
    """The connection a hand-written read should use: the replica inside `reports()`, when
    the service has one, else the primary."""
    if _REPORTING.get():
        try:
            return Tortoise.get_connection(REPLICA)
        except ConfigurationError:  # no replica configured
            pass
    return Tortoise.get_connection("default")


async def apply_migrations(config: Config) -> None:
    """Apply every pending migration, then close the connections it opened."""
    _forget_compiled_statements()
    try:
        await migrate(config=tortoise_config(config, replica=False))
    finally:
        await Tortoise.close_connections()


@asynccontextmanager
async def open_database(config: Config) -> AsyncIterator[None]:
    """Tortoise initialised for the life of the block, reachable from every task.

    The block owns the process's one global Tortoise context. It gives it up on the way out
    even when closing the connections fails or is cut short (a shutdown bound, a cancel);
    otherwise every later `open_database` in the process would be refused.
    """
    _forget_compiled_statements()
    ctx = await Tortoise.init(config=tortoise_config(config), _enable_global_fallback=True)
    try:
        yield
    finally:
        try:
            await ctx.close_connections()
        finally:
            _release_global_context(ctx)


def _forget_compiled_statements() -> None:
    # Tortoise keeps each model's INSERT, UPDATE and DELETE text per connection *name*, not per
    # database: a process that opens SQLite and then PostgreSQL under the name "default" (a
    # migration check, the demo after a test) would send SQLite's `?` to PostgreSQL.
    EXECUTOR_CACHE.clear()


def _release_global_context(ctx: TortoiseContext) -> None:
    # Tortoise clears its global fallback only at the end of a close that completed, and has
    # no public call to clear it otherwise.
    if tortoise_context._global_context is ctx:
        tortoise_context._global_context = None


def is_database_locked(exc: BaseException) -> bool:
    """The error, or one it was raised from, is SQLite's "database is locked" (worth a retry)."""
    return any("database is locked" in str(current) for current in _chain(exc))


# PostgreSQL's answers that mean "not now" rather than "not this": the server is shutting
# down, starting up, out of connection slots, or the connection broke under the statement.
_UNAVAILABLE = (
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.TooManyConnectionsError,
)


def is_database_unavailable(exc: BaseException) -> bool:
    """The error, or one it was raised from, says PostgreSQL cannot be reached right now (a
    restart, a failover, the network): the request is worth retrying, and is not a 500.

    Socket errors and timeouts count only when asyncpg raised them, connecting or talking to
    the server, so that a WeChat or Redis failure is never taken for the database's."""
    for current in _chain(exc):
        if isinstance(current, _UNAVAILABLE):
            return True
        if isinstance(current, asyncpg.InterfaceError) and "connection is closed" in str(current):
            return True
        # A statement on a connection whose server just sent its termination notice: asyncpg's
        # protocol is still consuming that error ("cannot switch to state ..."); the connection
        # is closed right after and the pool opens a new one.
        if isinstance(current, asyncpg.InternalClientError) and "cannot switch to state" in str(
            current
        ):
            return True
        if isinstance(current, OSError | TimeoutError) and _raised_in_asyncpg(current):
            return True
    return False


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not s for s in seen):
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _raised_in_asyncpg(exc: BaseException) -> bool:
    tb = exc.__traceback__
    while tb is not None:
        if str(tb.tb_frame.f_globals.get("__name__", "")).startswith("asyncpg"):
            return True
        tb = tb.tb_next
    return False


async def ping() -> None:
    """Raise if the database does not answer."""
    await Tortoise.get_connection("default").execute_query("SELECT 1")


def is_postgres(config: Config) -> bool:
    return not config.database.is_sqlite


async def model_changes(config: Config, *, write: bool = False) -> list[str]:
    """Model changes that no migration covers yet; with `write`, new migration files for them."""
    from tortoise.context import TortoiseContext
    from tortoise.migrations.autodetector import MigrationAutodetector

    tortoise = tortoise_config(config)
    async with TortoiseContext() as ctx:
        await ctx.init(config=tortoise)
        if ctx.apps is None:
            raise RuntimeError("Tortoise apps are not initialised")
        detector = MigrationAutodetector(ctx.apps, tortoise["apps"])
        writers = await detector.changes()
        if write:
            return [str(writer.write()) for writer in writers]
        return [f"{writer.app_label}.{writer.name}" for writer in writers]
