"""Fixtures shared by the whole suite.

Every test gets a fresh database and Redis, and a fake WeChat API server of its own:
- SQLite by default: the schema is built once into a template file, copied for each test;
- PostgreSQL when `WXMEMBER_TEST_DATABASE_URL` is set: one database per test run, every table
  truncated before each test;
- Redis at `WXMEMBER_TEST_REDIS_URL` when set (flushed before each test), else the in-process
  stand-in.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from tortoise import Tortoise

from wxmember import keys
from wxmember.app import create_app
from wxmember.config import Config, build_config
from wxmember.context import Services
from wxmember.db import tortoise_config
from wxmember.fake_wechat import FakeWeChat, create_fake_wechat_app

PG_URL = os.environ.get("WXMEMBER_TEST_DATABASE_URL", "")
REDIS_URL = os.environ.get("WXMEMBER_TEST_REDIS_URL", "")

MINIAPP_APPID = "wxminiapp0000001"
MINIAPP_SECRET = "miniapp-secret-0123456789abcdef"
OFFICIAL_APPID = "wxofficial000001"
OFFICIAL_SECRET = "official-secret-0123456789abcdef"
OFFICIAL_TOKEN = "pamtest"
OFFICIAL_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
SECRET_KEY = "test-secret-key-0123456789abcdef"
DATA_KEY = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="

requires_postgres = pytest.mark.skipif(not PG_URL, reason="needs WXMEMBER_TEST_DATABASE_URL")


def base_settings(database_url: str, api_base: str) -> dict[str, dict[str, Any]]:
    """The config every test starts from; tests override sections as they need."""
    return {
        "database": {"url": database_url, "pool_max": 20},
        "redis": {"url": REDIS_URL},
        "brand": {"name": "测试品牌", "timezone": "Asia/Shanghai"},
        "miniapp": {"appid": MINIAPP_APPID, "secret": MINIAPP_SECRET},
        "official": {
            "appid": OFFICIAL_APPID,
            "secret": OFFICIAL_SECRET,
            "token": OFFICIAL_TOKEN,
            "encoding_aes_key": OFFICIAL_AES_KEY,
            "mode": "safe",
        },
        "wechat": {"api_base": api_base, "timeout_seconds": 2.0, "network_retries": 1},
        "security": {"secret_key": SECRET_KEY, "data_key": DATA_KEY},
        "scheduler": {"enabled": False},
    }


async def _build_schema(database_url: str) -> None:
    config = build_config(base_settings(database_url, "http://127.0.0.1:9"))
    await Tortoise.init(config=tortoise_config(config))
    try:
        await Tortoise.generate_schemas(safe=False)
    finally:
        await Tortoise.close_connections()


def _pg_admin_url(url: str) -> tuple[str, str]:
    base, _, name = url.rpartition("/")
    return base + "/postgres", name.split("?")[0]


async def _recreate_pg_database(url: str) -> None:
    admin_url, name = _pg_admin_url(url)
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


def _worker_pg_url() -> str:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    base, _, name = PG_URL.rpartition("/")
    return f"{base}/{name}{('_' + worker) if worker else ''}"


@pytest.fixture(scope="session")
def schema_template(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A database with the full schema: a SQLite file path, or the test PostgreSQL URL."""
    if PG_URL:
        url = _worker_pg_url()
        asyncio.run(_recreate_pg_database(url))
        asyncio.run(_build_schema(url))
        return url
    path = tmp_path_factory.mktemp("schema") / "template.db"
    asyncio.run(_build_schema(f"sqlite://{path}"))
    return str(path)


async def _truncate_pg(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        tables = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        names = ", ".join(f'"{row["tablename"]}"' for row in tables)
        if names:
            await conn.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    finally:
        await conn.close()


@pytest.fixture
async def database_url(schema_template: str, tmp_path: Path) -> str:
    """A fresh database for this test, with the schema and no rows."""
    if PG_URL:
        await _truncate_pg(schema_template)
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
def log_lines(capsys: pytest.CaptureFixture[str]) -> Iterator[Callable[[], str]]:
    """Everything the service logged so far (JSON lines on stderr), as one string."""
    import logging

    from wxmember.log import JsonFormatter

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
    from handlers.operators import create_operator
    from wxmember.models import Role

    async def login(role: str, username: str | None = None) -> dict[str, str]:
        username = username or f"{role}-user"
        await create_operator(username, "correct-horse-battery", Role(role))
        response = await client.post(
            "/admin/api/v1/login", json={"username": username, "password": "correct-horse-battery"}
        )
        assert response.status == 200, await response.text()
        token = (await response.json())["token"]
        return {"Authorization": f"Bearer {token}"}

    return login
