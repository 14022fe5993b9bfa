"""Child processes of the harness: one-shot commands, and servers waited for and stopped cleanly.

A server is started with its output going to a log file, polled on /healthz until it answers,
and stopped with SIGTERM (aiohttp's run_app shuts down gracefully on it, running every cleanup
context); its exit status is kept for the report.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp

STARTUP_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 15.0
LOG_TAIL_LINES = 30


class ProcessFailed(RuntimeError):
    """A child process failed; the message carries the command and the end of its output."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _tail(text: str) -> str:
    return "\n".join(text.splitlines()[-LOG_TAIL_LINES:])


async def run_captured(
    command: Sequence[str], *, cwd: Path, env: Mapping[str, str] | None = None
) -> str:
    """Run a command to the end and return its standard output; ProcessFailed if it fails."""
    proc = await asyncio.create_subprocess_exec(
        *command,
        cwd=cwd,
        env=dict(env) if env is not None else None,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise ProcessFailed(
            f"{' '.join(command[:4])} ... exited {proc.returncode}:\n{_tail(err.decode())}"
        )
    return out.decode()


@dataclass
class Server:
    """A running server process; `exit_code` is set once it has stopped."""

    name: str
    url: str
    log_file: Path
    pid: int | None = None
    exit_code: int | None = None


async def _wait_healthy(proc: asyncio.subprocess.Process, server: Server) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
        while time.monotonic() < deadline:
            if proc.returncode is not None:
                break
            try:
                async with session.get(server.url + "/healthz") as response:
                    if response.status == 200:
                        return
            except (aiohttp.ClientError, TimeoutError):
                pass
            await asyncio.sleep(0.05)
    log = server.log_file.read_text(encoding="utf-8", errors="replace")
    raise ProcessFailed(f"{server.name} did not become healthy at {server.url}:\n{_tail(log)}")


async def _check_ready(server: Server, path: str) -> None:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        async with session.get(server.url + path) as response:
            if response.status != 200:
                body = await response.text()
                status = f"{path} answered {response.status}"
                raise ProcessFailed(f"{server.name} is not ready ({status}): {body}")


async def _stop(proc: asyncio.subprocess.Process) -> int:
    if proc.returncode is None:
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), STOP_TIMEOUT_SECONDS)
        except TimeoutError:
            proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return proc.returncode


@asynccontextmanager
async def running_server(
    name: str,
    command: Sequence[str],
    *,
    port: int,
    cwd: Path,
    env: Mapping[str, str],
    log_file: Path,
    ready_path: str | None = None,
) -> AsyncIterator[Server]:
    """Start `command` (serving HTTP on 127.0.0.1:`port`); yield once /healthz answers.

    With `ready_path`, that endpoint must then answer 200 too (the service's /readyz checks the
    database and Redis).
    """
    server = Server(name=name, url=f"http://127.0.0.1:{port}", log_file=log_file)
    with log_file.open("wb") as log:
        proc = await asyncio.create_subprocess_exec(
            *command, cwd=cwd, env=dict(env), stdout=log, stderr=asyncio.subprocess.STDOUT
        )
        server.pid = proc.pid
        try:
            await _wait_healthy(proc, server)
            if ready_path is not None:
                await _check_ready(server, ready_path)
            yield server
        finally:
            server.exit_code = await _stop(proc)
