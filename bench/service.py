"""The service under test: its environment, its commands, and the fake WeChat it talks to.

The service is configured only through `WXMEMBER_*` environment variables (plus an empty config
file, so a developer's ./config.toml is never picked up); the harness reads the same environment
with `wxmember.core.config.load_config`, so seeding signs tokens with the very keys the service
uses."""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from aiohttp import web

from bench.load import REPO_ROOT
from wxmember.core.config import ENV_PREFIX, Config, generate_data_key, load_config
from wxmember.core.fake_wechat import FakeWeChat, create_fake_wechat_app

MINIAPP = ("wxbenchminiapp001", "bench-miniapp-secret-0123456789")
OFFICIAL = ("wxbenchofficial01", "bench-official-secret-012345678")
OFFICIAL_TOKEN = "benchtoken"
OFFICIAL_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


def service_environment(database_url: str, redis_url: str, api_base: str) -> dict[str, str]:
    """The environment of every service process: this process's, minus any WXMEMBER_* setting."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX)}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    env.update(
        {
            "WXMEMBER_DATABASE_URL": database_url,
            "WXMEMBER_REDIS_URL": redis_url,
            "WXMEMBER_SECURITY_SECRET_KEY": secrets.token_urlsafe(32),
            "WXMEMBER_SECURITY_DATA_KEY": generate_data_key(),
            "WXMEMBER_SCHEDULER_ENABLED": "false",
            "WXMEMBER_WECHAT_API_BASE": api_base,
            "WXMEMBER_MINIAPP_APPID": MINIAPP[0],
            "WXMEMBER_MINIAPP_SECRET": MINIAPP[1],
            "WXMEMBER_OFFICIAL_APPID": OFFICIAL[0],
            "WXMEMBER_OFFICIAL_SECRET": OFFICIAL[1],
            "WXMEMBER_OFFICIAL_TOKEN": OFFICIAL_TOKEN,
            "WXMEMBER_OFFICIAL_ENCODING_AES_KEY": OFFICIAL_AES_KEY,
        }
    )
    return env


def empty_config_file(directory: Path) -> Path:
    path = directory / "bench-config.toml"
    path.write_text("# every setting comes from WXMEMBER_* variables\n", encoding="utf-8")
    return path


def service_config(env: dict[str, str], config_file: Path) -> Config:
    """The config the service processes will load from this environment."""
    return load_config(config_file, environ=env)


def wxmember_command(config_file: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "wxmember", "--config", str(config_file), *args]


def serve_command(config_file: Path, port: int) -> list[str]:
    return wxmember_command(config_file, "serve", "--host", "127.0.0.1", "--port", str(port))


def gunicorn_command(workers: int, port: int) -> list[str]:
    """The service as the README's production deployment runs it: gunicorn with aiohttp's
    uvloop worker, `workers` processes on one port (the config file comes as WXMEMBER_CONFIG)."""
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "wxmember.serving:app",
        "--worker-class",
        "aiohttp.GunicornUVLoopWebWorker",
        "--workers",
        str(workers),
        "--bind",
        f"127.0.0.1:{port}",
        "--graceful-timeout",
        "5",
    ]


def baseline_command(port: int) -> list[str]:
    return [sys.executable, "-m", "bench.baseline", "--host", "127.0.0.1", "--port", str(port)]


@asynccontextmanager
async def fake_wechat_server() -> AsyncIterator[tuple[FakeWeChat, str]]:
    """The fake WeChat API on a free local port, in this process; yields its state and base URL."""
    fake = FakeWeChat()
    fake.register_app(*MINIAPP)
    fake.register_app(*OFFICIAL)
    runner = web.AppRunner(create_fake_wechat_app(fake), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield fake, f"http://{host}:{port}"
    finally:
        await runner.cleanup()
