"""What a run was measured on: cores, load, Python and library versions, the load generator."""

from __future__ import annotations

import os
import platform
import sqlite3
import subprocess
import sys
from importlib import metadata
from typing import Any

PACKAGES = ("aiohttp", "tortoise-orm", "asyncpg", "redis", "pydantic")


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def wrk_version() -> str:
    """wrk has no version flag; its usage text starts with the version line."""
    try:
        done = subprocess.run(["wrk", "--version"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return "unavailable"
    text = (done.stdout or done.stderr).strip()
    return text.splitlines()[0].split(" Copyright")[0] if text else "unknown"


def machine_info(generator: str) -> dict[str, Any]:
    """Facts about this machine and software, for the report."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    info: dict[str, Any] = {
        "cores": os.cpu_count(),
        "cpu": _cpu_model(),
        "load average at start (1/5/15 min)": " / ".join(f"{x:.2f}" for x in load),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "sqlite": sqlite3.sqlite_version,
        "load generator": generator if generator != "wrk" else f"wrk ({wrk_version()})",
    }
    info.update({package: _version(package) for package in PACKAGES})
    return info
