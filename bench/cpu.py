"""The CPU each side of a run spends on the measured load: the server's processes, and the
PostgreSQL and Redis servers' on this machine.

A ratio to the bare handler says how fast; the CPU per request says where a request's cost
lies, and whether the server or the database is the one that runs out of core first on a
machine whose cores they share. Read from `/proc` (Linux) just before and just after the
measured part of a load; without `/proc` nothing is measured and the report leaves it blank.

- **server:** the process the harness started and its descendants (gunicorn's workers, the card
  faces' render processes);
- **database:** every process named `postgres` on this machine: a server elsewhere is not seen,
  and other databases' work on the same server is counted with the run's;
- **redis:** every process named `redis-server` on this machine, likewise.

A process that starts during the measured part counts whole; one that ends during it is lost.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROC = Path("/proc")
SERVER = "server"
DATABASE = "database"
REDIS = "redis"


def _ticks_per_second() -> int:
    try:
        return os.sysconf("SC_CLK_TCK")
    except (AttributeError, ValueError, OSError):
        return 100


_TICKS = _ticks_per_second()


def cpu_seconds(pid: int) -> float | None:
    """User and system CPU the process has used, or None when it is gone (or there is no /proc).

    `/proc/PID/stat` names the command in parentheses, which may hold spaces and parentheses of
    its own: the fields are counted from the last `)`.
    """
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2 :].split()
    # fields[0] is the state (the stat's third field): utime and stime are its 14th and 15th
    return (int(fields[11]) + int(fields[12])) / _TICKS


def descendants(pid: int) -> list[int]:
    """The process and every process below it."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in (PROC / str(current) / "task").glob("*/children"):
            try:
                todo.extend(int(child) for child in task.read_text().split())
            except OSError:
                continue
    return found


def named(command: str) -> list[int]:
    """Processes whose command name is `command`."""
    pids = []
    for entry in PROC.glob("[0-9]*"):
        try:
            if (entry / "comm").read_text().strip() == command:
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


@dataclass
class CpuMeter:
    """CPU seconds per side between `start` and `stop`; JSON-able, so the Python load generator
    can take one into its own process and read it around its measured phase."""

    server_pid: int | None
    database: bool
    redis: bool = False
    _started: dict[str, dict[int, float]] = field(default_factory=dict, repr=False, compare=False)

    def to_json(self) -> dict[str, Any]:
        return {"server_pid": self.server_pid, "database": self.database, "redis": self.redis}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> CpuMeter | None:
        return None if data is None else cls(data["server_pid"], data["database"], data["redis"])

    def _read(self) -> dict[str, dict[int, float]]:
        sides: dict[str, list[int]] = {}
        if self.server_pid is not None:
            sides[SERVER] = descendants(self.server_pid)
        if self.database:
            sides[DATABASE] = named("postgres")
        if self.redis:
            sides[REDIS] = named("redis-server")
        readings: dict[str, dict[int, float]] = {}
        for side, pids in sides.items():
            readings[side] = {}
            for pid in pids:
                seconds = cpu_seconds(pid)
                if seconds is not None:
                    readings[side][pid] = seconds
        return readings

    def start(self) -> None:
        self._started = self._read() if PROC.is_dir() else {}

    def stop(self) -> dict[str, float]:
        """Seconds of CPU per side since `start` (no side without `/proc` or a process)."""
        if not self._started:
            return {}
        spent = {}
        for side, now in self._read().items():
            before = self._started.get(side, {})
            if now:
                spent[side] = round(sum(t - before.get(pid, 0.0) for pid, t in now.items()), 3)
        return spent
