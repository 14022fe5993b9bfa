"""Measuring inside the job process: resident memory over time, and time spent per call.

`Timed` replaces a function in the module that calls it by a wrapper that times each call and
passes everything through unchanged, so a job's inner steps can be told apart without changing
what the job does.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from types import ModuleType
from typing import Any


def memory_kib() -> dict[str, int]:
    """Current (VmRSS) and peak (VmHWM) resident memory of this process, in KiB."""
    found: dict[str, int] = {}
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                found[key] = int(value.split()[0])
    return {"rss": found.get("VmRSS", 0), "hwm": found.get("VmHWM", 0)}


def reset_peak() -> bool:
    """Restart the high-water mark of resident memory (and so ru_maxrss) from the current size.

    Linux's /proc/self/clear_refs with "5"; False where that is not possible.
    """
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as refs:
            refs.write("5")
    except OSError:
        return False
    return True


class RssSampler:
    """Samples resident memory every `interval` seconds while a job runs."""

    def __init__(self, interval: float = 0.5) -> None:
        self.interval = interval
        self.samples: list[tuple[float, int]] = []
        self._task: asyncio.Task[None] | None = None
        self._started = 0.0

    async def _run(self) -> None:
        while True:
            self.samples.append((time.perf_counter() - self._started, memory_kib()["rss"]))
            await asyncio.sleep(self.interval)

    def start(self) -> None:
        self._started = time.perf_counter()
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> dict[str, Any]:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self.samples.append((time.perf_counter() - self._started, memory_kib()["rss"]))
        values = [rss for _, rss in self.samples]
        picks = [self.samples[round(i * (len(values) - 1) / 4)] for i in range(5)]
        return {
            "interval_seconds": self.interval,
            "samples": len(values),
            "min_kib": min(values),
            "max_kib": max(values),
            "at_quarters": [{"t": round(t, 1), "rss_kib": rss} for t, rss in picks],
        }


def summary(durations: list[float]) -> dict[str, Any]:
    """Count, total and spread of call durations; first and last tenth show a drift."""
    if not durations:
        return {"calls": 0, "seconds": 0.0}
    tenth = max(1, len(durations) // 10)
    return {
        "calls": len(durations),
        "seconds": round(sum(durations), 4),
        "mean_ms": round(1000 * statistics.fmean(durations), 3),
        "first_tenth_mean_ms": round(1000 * statistics.fmean(durations[:tenth]), 3),
        "last_tenth_mean_ms": round(1000 * statistics.fmean(durations[-tenth:]), 3),
        "max_ms": round(1000 * max(durations), 3),
    }


class Timed:
    """Times every call of `module.name` (an async function) until `restore()`."""

    def __init__(self, module: ModuleType, name: str) -> None:
        self.module, self.name = module, name
        self.original: Callable[..., Awaitable[Any]] = getattr(module, name)
        self.durations: list[float] = []

        async def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await self.original(*args, **kwargs)
            finally:
                self.durations.append(time.perf_counter() - started)

        setattr(module, name, timed)

    def restore(self) -> dict[str, Any]:
        setattr(self.module, self.name, self.original)
        return summary(self.durations)
