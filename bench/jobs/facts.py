"""What a run was measured on: the machine, its load, the software, the PostgreSQL settings."""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata
from typing import Any

import asyncpg

PACKAGES = ("tortoise-orm", "asyncpg", "aiohttp", "redis")
PG_SETTINGS = (
    "server_version",
    "shared_buffers",
    "work_mem",
    "effective_cache_size",
    "random_page_cost",
    "max_wal_size",
    "synchronous_commit",
    "fsync",
    "jit",
    "plan_cache_mode",
)


def load_average() -> str:
    """The 1, 5 and 15 minute load averages."""
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> float:
    with open("/proc/meminfo", encoding="ascii") as info:
        kib = int(info.readline().split()[1])
    return round(kib / 1024 / 1024, 1)


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine() -> dict[str, Any]:
    """Cores, CPU, memory, platform, Python and library versions."""
    info: dict[str, Any] = {
        "cores": os.cpu_count(),
        "cpu": _cpu_model(),
        "memory_gib": _memory_gib(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
    }
    info.update({package: _version(package) for package in PACKAGES})
    return info


async def postgres(conn: asyncpg.Connection) -> dict[str, str]:
    """The server settings that matter to these jobs."""
    return {name: str(await conn.fetchval(f"SHOW {name}")) for name in PG_SETTINGS}
