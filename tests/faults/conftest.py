"""The fault suite: the production shape of `./dev stack` under load, broken on purpose.

One stack for the whole suite (PostgreSQL, Redis, nginx, two gunicorn workers, one scheduler
and the fake WeChat, from Debian's packages and this checkout), on free local ports in a
temporary directory. Each scenario breaks one part while a load runs through nginx, puts it
back, and ends with the invariants checked in the database (`tests/faults/invariants.py`).

The suite runs in the PostgreSQL + Redis pass (WXMEMBER_TEST_DATABASE_URL set) when Debian's
PostgreSQL, Redis and nginx are installed, after every other test of the run; elsewhere it is
skipped. `WXMEMBER_FAULTS_KEEP=1` keeps the stack's directory (its logs) after the run.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from stack import Layout, Ports, Stack
from tests.support.settings import PG_URL
from wxmember.core.config import load_config
from wxmember.runner import running_services

HERE = Path(__file__).parent


def _missing() -> str | None:
    if not PG_URL:
        return "the fault suite runs in the PostgreSQL pass (WXMEMBER_TEST_DATABASE_URL)"
    if not list(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl")):
        return "needs Debian's postgresql"
    for program in ("redis-server", "nginx"):
        if not (shutil.which(program) or Path(f"/usr/sbin/{program}").exists()):
            return f"needs Debian's {program}"
    return None


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Fault scenarios run after every other test, and only where the stack can run."""
    reason = _missing()
    ours = [item for item in items if HERE in Path(str(item.path)).parents]
    for item in ours:
        item.add_marker(pytest.mark.faults)
        if reason:
            item.add_marker(pytest.mark.skip(reason=reason))
    others = [item for item in items if item not in ours]
    # In a fixed order: the stack's parts are shared, and a scenario leaves them as it found
    # them, except the scheduler scenario, which leaves another scheduler leading.
    items[:] = others + sorted(ours, key=lambda item: item.nodeid)


def _free_block(size: int) -> int:
    """The first of `size` consecutive free ports below the ephemeral range."""
    for base in range(21000, 32000, 10):
        try:
            for port in range(base, base + size):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise RuntimeError("no block of free ports")


STACK_SETTINGS: dict[str, dict[str, Any]] = {
    # Short enough that a takeover happens within a scenario, long enough to renew under load.
    "scheduler": {"lease_seconds": 6.0},
    # A reminder run slow enough to be caught in the middle; one cut off, or refused as busy,
    # tried again soon.
    "reminders": {"sends_per_second": 10, "sending_timeout_seconds": 10, "retry_base_seconds": 5},
    # Every simulated member logs in from this one machine.
    "security": {"member_logins_per_address_per_minute": 100_000},
}


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    # Outside pytest's temporary directories, which PostgreSQL's own user cannot enter.
    root = Path(tempfile.mkdtemp(prefix="wxmember-faults-"))
    root.chmod(0o755)
    # Workers are not recycled after max_requests here: the soak is to see any growth, which
    # recycling would hide, and a scenario's workers are the ones it started with.
    stack = Stack(
        Layout(root, Ports.from_base(_free_block(5)), workers=2),
        gunicorn_args=["--max-requests", "0"],
    )
    try:
        stack.start(settings=STACK_SETTINGS)
        yield stack
    finally:
        stack.stop()
        if os.environ.get("WXMEMBER_FAULTS_KEEP"):
            print(f"\nthe fault suite's stack, logs and all: {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
async def services_app(stack: Stack) -> AsyncIterator[web.Application]:
    """The stack's database, Redis and services opened in this process, for seeding and
    for checking the invariants."""
    async with running_services(load_config(stack.layout.config_file)) as app:
        yield app
