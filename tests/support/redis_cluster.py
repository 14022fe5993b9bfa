"""A real Redis Cluster of three primaries, from Debian's `redis-server`, for tests that need one.

    with running_cluster(tmp_dir) as url:   # "redis://127.0.0.1:P/0", one of the nodes
        ...

Each node listens on a free port of 127.0.0.1 (its cluster bus on another free port), keeps its
files in `workdir/<port>/` and saves nothing to disk. `redis-cli --cluster create` shares the
16,384 slots among the three; the block starts once every node reports `cluster_state:ok`. Every
node is stopped when the block ends, whatever happened inside it.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from tests.support.processes import free_port

NODES = 3
START_SECONDS = 20.0
STOP_SECONDS = 10.0


def missing_binaries() -> str:
    """Why a cluster cannot be started here ("" when it can)."""
    missing = [name for name in ("redis-server", "redis-cli") if shutil.which(name) is None]
    if missing:
        return f"needs {' and '.join(missing)} (apt-get install redis-server)"
    return ""


@contextmanager
def running_cluster(workdir: Path) -> Iterator[str]:
    """A three-primary cluster for the life of the block; yields the URL of its first node."""
    with ExitStack() as stack:
        ports = [stack.enter_context(_node(workdir)) for _ in range(NODES)]
        _create(ports)
        yield f"redis://127.0.0.1:{ports[0]}/0"


@contextmanager
def _node(workdir: Path) -> Iterator[int]:
    port, bus = free_port(), free_port()
    home = workdir / str(port)
    home.mkdir(parents=True)
    log = home / "redis.log"
    process = subprocess.Popen(
        [
            "redis-server",
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--cluster-enabled",
            "yes",
            "--cluster-port",
            str(bus),
            "--cluster-config-file",
            "nodes.conf",
            "--dir",
            str(home),
            "--save",
            "",
            "--appendonly",
            "no",
            "--logfile",
            str(log),
        ],  # fmt: skip
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait(
            lambda: process.poll() is None and _cli(port, "ping") == "PONG",
            f"redis-server on port {port} did not start",
            log,
        )
        yield port
    finally:
        process.terminate()
        try:
            process.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _create(ports: list[int]) -> None:
    subprocess.run(
        ["redis-cli", "--cluster", "create", *(f"127.0.0.1:{port}" for port in ports)]
        + ["--cluster-replicas", "0", "--cluster-yes"],
        check=True,
        capture_output=True,
        timeout=START_SECONDS,
    )
    for port in ports:
        _wait(
            lambda port=port: "cluster_state:ok" in _cli(port, "cluster", "info"),
            f"the cluster did not come up on port {port}",
            None,
        )


def _cli(port: int, *command: str) -> str:
    done = subprocess.run(
        ["redis-cli", "-h", "127.0.0.1", "-p", str(port), *command],
        capture_output=True,
        text=True,
        timeout=5,
    )
    return done.stdout.strip()


def _wait(ready: Callable[[], bool], what: str, log: Path | None) -> None:
    deadline = time.monotonic() + START_SECONDS
    while not ready():
        if time.monotonic() > deadline:
            tail = log.read_text()[-2000:] if log is not None and log.exists() else ""
            raise RuntimeError(f"{what} within {START_SECONDS} s\n{tail}")
        time.sleep(0.05)
