"""Fixtures shared by the whole suite.

Every test gets a fresh database and Redis, and a fake WeChat API server of its own:
- SQLite by default: the schema is built once into a template file, copied for each test;
- PostgreSQL when `WXMEMBER_TEST_DATABASE_URL` is set: one database per test run, every table
  emptied before each test;
- Redis at `WXMEMBER_TEST_REDIS_URL` when set (flushed before each test), else the in-process
  stand-in.
"""

from __future__ import annotations

import asyncio
import gc
import shutil
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from argon2 import PasswordHasher

from tests.support.databases import build_schema, empty_pg, recreate_pg_database
from tests.support.http import bearer
from tests.support.settings import (
    MINIAPP_APPID,
    MINIAPP_SECRET,
    OFFICIAL_APPID,
    OFFICIAL_SECRET,
    PG_URL,
    REDIS_URL,
    base_settings,
    requires_postgres,
)
from tests.support.wechat_push import OfficialPusher
from wxmember.app import create_app
from wxmember.core import keys, security
from wxmember.core.config import Config, build_config
from wxmember.core.context import Services
from wxmember.core.fake_wechat import FakeWeChat, create_fake_wechat_app

__all__ = ["requires_postgres"]


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashing() -> Iterator[None]:
    """argon2id at its lowest cost: the suite signs staff in thousands of times, at a third of a
    second each with the production cost. Hashes stay argon2id and verify as in production."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            security, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
        )
        yield


@pytest.fixture(autouse=True)
def collector_as_it_was() -> Iterator[None]:
    """A served app freezes its startup heap and collects young objects less often, for its whole
    process (wxmember.serving); after a test that starts one, the suite's process gets its
    collector back as it was."""
    thresholds = gc.get_threshold()
    yield
    if gc.get_freeze_count():
        gc.unfreeze()
    gc.set_threshold(*thresholds)


@pytest.fixture(scope="session")
def schema_template(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A database with the full schema: a SQLite file path, or the test PostgreSQL URL."""
    if PG_URL:
        url = PG_URL
        _run_apart(recreate_pg_database(url))
        _run_apart(build_schema(url))
        return url
    path = tmp_path_factory.mktemp("schema") / "template.db"
    _run_apart(build_schema(f"sqlite://{path}"))
    return str(path)


def _run_apart(work: Coroutine[Any, Any, None]) -> None:
    """Run `work` on an event loop of its own thread: a session fixture may first be asked for
    while the browser tests' Playwright (sync API) keeps its loop running in this thread."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, work).result()


@pytest.fixture
async def database_url(schema_template: str, tmp_path: Path) -> str:
    """A fresh database for this test, with the schema and no rows."""
    if PG_URL:
        await empty_pg(schema_template)
        return schema_template
    path = tmp_path / "test.db"
    shutil.copyfile(schema_template, path)
    return f"sqlite://{path}"


@pytest.fixture
async def flushed_redis() -> None:
    if REDIS_URL:
        from redis.asyncio import Redis

        client = Redis.from_url(REDIS_URL)
        await client.flushdb()
        await client.aclose()


@pytest.fixture
def fake_wechat() -> FakeWeChat:
    fake = FakeWeChat()
    fake.register_app(MINIAPP_APPID, MINIAPP_SECRET)
    fake.register_app(OFFICIAL_APPID, OFFICIAL_SECRET)
    return fake


@pytest.fixture
async def fake_wechat_server(
    fake_wechat: FakeWeChat, aiohttp_server: Callable[..., Awaitable[TestServer]]
) -> TestServer:
    return await aiohttp_server(create_fake_wechat_app(fake_wechat))


@pytest.fixture
def settings(database_url: str, fake_wechat_server: TestServer, flushed_redis: None) -> dict:
    """The test config as plain data; override a key, then `config` validates it."""
    return base_settings(database_url, str(fake_wechat_server.make_url("")).rstrip("/"))


@pytest.fixture
def config(settings: dict[str, dict[str, Any]]) -> Config:
    return build_config(settings)


@pytest.fixture
def app(config: Config) -> web.Application:
    return create_app(config)


@pytest.fixture
async def client(
    app: web.Application, aiohttp_client: Callable[..., Awaitable[TestClient]]
) -> TestClient:
    return await aiohttp_client(app)


@pytest.fixture
def services(client: TestClient) -> Services:
    return client.app[keys.SERVICES]


@pytest.fixture
def pusher(
    client: TestClient, config: Config, fake_wechat: FakeWeChat, services: Services
) -> OfficialPusher:
    """Signs (and, in safe mode, encrypts) pushes to the Official Account webhook as WeChat
    does, at the service's time (tests may freeze it)."""
    return OfficialPusher(client, config, fake_wechat, lambda: services.clock.now().timestamp())


@pytest.fixture
def log_lines(capsys: pytest.CaptureFixture[str]) -> Iterator[Callable[[], str]]:
    """Everything the service logged so far (JSON lines on stderr), as one string."""
    import logging

    from wxmember.core.log import JsonFormatter

    stream_records: list[str] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            stream_records.append(self.format(record))

    handler = Capture(level=logging.DEBUG)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield lambda: "\n".join(stream_records)
    root.removeHandler(handler)
    root.setLevel(previous)


StaffLogin = Callable[..., Awaitable[dict[str, str]]]


@pytest.fixture
def login_as(client: TestClient) -> StaffLogin:
    """Create a staff account of a role and return the headers of its session."""
    from handlers.operators.accounts import create_operator
    from wxmember.core.models import Role

    async def login(role: str, username: str | None = None) -> dict[str, str]:
        username = username or f"{role}-user"
        await create_operator(username, "correct-horse-battery", Role(role))
        response = await client.post(
            "/admin/api/v1/login", json={"username": username, "password": "correct-horse-battery"}
        )
        assert response.status == 200, await response.text()
        token = (await response.json())["token"]
        return bearer(token)

    return login
