"""Real `wxmember serve` processes for tests that need several workers.

    env = service_env(database_url=..., redis_url=..., wechat_api_base=...)
    async with running_services(2, env, tmp_path) as urls:
        ...  # urls: ["http://127.0.0.1:P1", "http://127.0.0.1:P2"], each answering /healthz

Configuration reaches the processes only through `WXMEMBER_*` environment variables (the
parent's are dropped), and they run in `workdir`, so no `config.toml` is picked up by accident.
Every process is stopped when the block ends, whatever happened inside it; its output is in
`workdir/service-<n>.log` and quoted in the error when it fails to start.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import aiohttp

from tests.support.settings import (
    DATA_KEY,
    MINIAPP_APPID,
    MINIAPP_SECRET,
    OFFICIAL_AES_KEY,
    OFFICIAL_APPID,
    OFFICIAL_SECRET,
    OFFICIAL_TOKEN,
    SECRET_KEY,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
STOP_TIMEOUT_SECONDS = 10.0


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def service_env(
    *, database_url: str, redis_url: str, wechat_api_base: str, **settings: str
) -> dict[str, str]:
    """The environment of a service process: the test keys and app ids, plus `settings`.

    `settings` are extra variables, e.g. `WXMEMBER_COUPONS_REDIS_PRECHECK="false"`.
    """
    env = {name: value for name, value in os.environ.items() if not name.startswith("WXMEMBER_")}
    env |= {
        "PYTHONPATH": str(REPO_ROOT),
        "WXMEMBER_DATABASE_URL": database_url,
        "WXMEMBER_DATABASE_POOL_MAX": "10",
        "WXMEMBER_REDIS_URL": redis_url,
        "WXMEMBER_SECURITY_SECRET_KEY": SECRET_KEY,
        "WXMEMBER_SECURITY_DATA_KEY": DATA_KEY,
        "WXMEMBER_SCHEDULER_ENABLED": "false",
        "WXMEMBER_WECHAT_API_BASE": wechat_api_base,
        "WXMEMBER_MINIAPP_APPID": MINIAPP_APPID,
        "WXMEMBER_MINIAPP_SECRET": MINIAPP_SECRET,
        "WXMEMBER_OFFICIAL_APPID": OFFICIAL_APPID,
        "WXMEMBER_OFFICIAL_SECRET": OFFICIAL_SECRET,
        "WXMEMBER_OFFICIAL_TOKEN": OFFICIAL_TOKEN,
        "WXMEMBER_OFFICIAL_ENCODING_AES_KEY": OFFICIAL_AES_KEY,
    }
    return env | settings


@dataclass
class ServiceProcess:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    log_file: IO[bytes]

    def log_tail(self, lines: int = 40) -> str:
        self.log_file.flush()
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])


def _start(index: int, env: Mapping[str, str], workdir: Path) -> ServiceProcess:
    port = free_port()
    log_path = workdir / f"service-{index}.log"
    log_file = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "wxmember", "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=workdir,
        env=dict(env),
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    return ServiceProcess(f"http://127.0.0.1:{port}", process, log_path, log_file)


async def _wait_healthy(service: ServiceProcess, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
        while True:
            if service.process.poll() is not None:
                raise RuntimeError(
                    f"service at {service.url} exited with {service.process.returncode}:\n"
                    + service.log_tail()
                )
            try:
                async with session.get(service.url + "/healthz") as response:
                    if response.status == 200:
                        return
            except (aiohttp.ClientError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"service at {service.url} not healthy after {timeout}s:\n" + service.log_tail()
                )
            await asyncio.sleep(0.2)


def _stop(service: ServiceProcess) -> None:
    process = service.process
    try:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    finally:
        service.log_file.close()


@asynccontextmanager
async def running_services(
    count: int, env: Mapping[str, str], workdir: Path, startup_timeout: float = 60.0
) -> AsyncIterator[list[str]]:
    """Start `count` service processes, wait until each answers /healthz, stop them after."""
    services: list[ServiceProcess] = []
    try:
        for index in range(count):
            services.append(_start(index, env, workdir))
        await asyncio.gather(*(_wait_healthy(s, startup_timeout) for s in services))
        yield [service.url for service in services]
    finally:
        await asyncio.gather(*(asyncio.to_thread(_stop, s) for s in services))


@contextmanager
def running_demo(workdir: Path, extra_env: Mapping[str, str] | None = None) -> Iterator[str]:
    """A `wxmember demo` process on its own SQLite file in `workdir`: its base URL once it
    answers /healthz (it seeds the brand and 90 days of activity first); stopped after.

    The parent's `WXMEMBER_*` variables are dropped, so the demo runs on its embedded defaults
    whatever backend the suite was pointed at; `extra_env` adds settings.
    """
    port = free_port()
    env = {name: value for name, value in os.environ.items() if not name.startswith("WXMEMBER_")}
    env |= {"PYTHONPATH": str(REPO_ROOT), **(extra_env or {})}
    log = workdir / "demo.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "wxmember", "demo", "--port", str(port)]
            + ["--db", str(workdir / "demo.db")],
            cwd=workdir,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for_demo(url, process, log)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_for_demo(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the demo exited:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"the demo did not start:\n{log.read_text()[-3000:]}")


def command_config(settings: Mapping[str, Any], directory: Path) -> Path:
    """A config file for a one-off `wxmember` command: the test's database, Redis and keys."""
    security = settings["security"]
    path = directory / "config.toml"
    path.write_text(
        f'[database]\nurl = "{settings["database"]["url"]}"\n'
        f'[redis]\nurl = "{settings["redis"]["url"]}"\n'
        f'[security]\nsecret_key = "{security["secret_key"]}"\n'
        f'data_key = "{security["data_key"]}"\n',
        encoding="utf-8",
    )
    return path


async def run_command(config_file: Path, *args: str, timeout: float = 120) -> tuple[int, str, str]:
    """Run `python -m wxmember --config FILE ARGS…`: its exit status, output and errors."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "wxmember",
        "--config",
        str(config_file),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=timeout)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()
