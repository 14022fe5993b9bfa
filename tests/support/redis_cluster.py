"""A real Redis Cluster of three primaries, from Debian's `redis-server`, for tests that need one.

    with running_cluster(tmp_dir) as cluster:
        cluster.url                 # "redis://127.0.0.1:P/0", its first node
        cluster.nodes[1].stop()     # a primary goes away ...
        cluster.nodes[1].start()    # ... and comes back with the same slots

Each node listens on a free port of 127.0.0.1 (its cluster bus on another free port), keeps its
files in `workdir/<port>/` and saves no data to disk. `redis-cli --cluster create` shares the
16,384 slots among the three; the block starts once every node reports `cluster_state:ok`. Every
node is stopped when the block ends, whatever happened inside it.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
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


class Node:
    """One `redis-server` in cluster mode; stopped and started again, it keeps its slots."""

    def __init__(self, workdir: Path) -> None:
        self.port, self.bus = free_port(), free_port()
        self.home = workdir / str(self.port)
        self.home.mkdir(parents=True)
        self.log = self.home / "redis.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        # nodes.conf (the node's id, its slots and its peers) stays in `home` across restarts
        self.process = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port)]
            + ["--cluster-enabled", "yes", "--cluster-port", str(self.bus)]
            + ["--cluster-config-file", "nodes.conf", "--dir", str(self.home)]
            + ["--save", "", "--appendonly", "no", "--logfile", str(self.log)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        process = self.process
        _wait(
            lambda: process.poll() is None and self.cli("ping") == "PONG",
            f"redis-server on port {self.port} did not start",
            self.log,
        )

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def cli(self, *command: str) -> str:
        done = subprocess.run(
            ["redis-cli", "-h", "127.0.0.1", "-p", str(self.port), *command],
            capture_output=True,
            text=True,
            timeout=5,
        )
        return done.stdout.strip()

    def wait_until_ok(self) -> None:
        """Until this node sees every slot served."""
        _wait(
            lambda: "cluster_state:ok" in self.cli("cluster", "info"),
            f"the cluster is not ok on port {self.port}",
            self.log,
        )


@dataclass
class Cluster:
    nodes: list[Node]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.nodes[0].port}/0"


@contextmanager
def running_cluster(workdir: Path) -> Iterator[Cluster]:
    """A three-primary cluster for the life of the block."""
    with ExitStack() as stack:
        nodes = []
        for _ in range(NODES):
            node = Node(workdir)
            stack.callback(node.stop)
            node.start()
            nodes.append(node)
        subprocess.run(
            ["redis-cli", "--cluster", "create"]
            + [f"127.0.0.1:{node.port}" for node in nodes]
            + ["--cluster-replicas", "0", "--cluster-yes"],
            check=True,
            capture_output=True,
            timeout=START_SECONDS,
        )
        for node in nodes:
            node.wait_until_ok()
        yield Cluster(nodes)


def _wait(ready: Callable[[], bool], what: str, log: Path) -> None:
    deadline = time.monotonic() + START_SECONDS
    while not ready():
        if time.monotonic() > deadline:
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"{what} within {START_SECONDS} s\n{tail}")
        time.sleep(0.05)
