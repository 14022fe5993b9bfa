"""A latency probe beside the load: one request at a time to a cheap path, on a connection of
its own, before the load (idle) and while it runs.

What the load's own figures cannot show: whether the load stalls the process for everyone
else. A card face drawn on the event loop, or by threads holding the interpreter, delays a
`GET /healthz` that arrives meanwhile; one drawn in a render process does not. The probe sends
a request, waits for the answer, sleeps `interval` and sends the next, so its figures are the
latency a light client sees, not a throughput.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import aiohttp

from bench.load import percentile

PROBE_INTERVAL_SECONDS = 0.02
PROBE_IDLE_SECONDS = 2.0
PROBE_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class ProbeResult:
    requests: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    errors: int  # failures and statuses other than 200

    def describe(self) -> str:
        return (
            f"p50 {self.p50_ms:.1f} ms, p99 {self.p99_ms:.1f} ms, max {self.max_ms:.1f} ms "
            f"({self.requests} requests, {self.errors} errors)"
        )


async def probe_until(
    url: str, stop: asyncio.Event, interval: float = PROBE_INTERVAL_SECONDS
) -> ProbeResult:
    """Probe `url` one request at a time until `stop` is set."""
    samples: list[float] = []
    errors = 0
    timeout = aiohttp.ClientTimeout(total=PROBE_TIMEOUT_SECONDS)
    connector = aiohttp.TCPConnector(limit=1)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        while not stop.is_set():
            started = time.perf_counter()
            try:
                async with session.get(url) as response:
                    await response.read()
                    if response.status != 200:
                        errors += 1
            except (aiohttp.ClientError, TimeoutError):
                errors += 1
            samples.append((time.perf_counter() - started) * 1000)
            try:
                await asyncio.wait_for(stop.wait(), interval)
            except TimeoutError:
                pass
    samples.sort()
    return ProbeResult(
        requests=len(samples),
        p50_ms=percentile(samples, 50),
        p99_ms=percentile(samples, 99),
        max_ms=samples[-1] if samples else 0.0,
        errors=errors,
    )


async def probe_for(
    url: str, seconds: float, interval: float = PROBE_INTERVAL_SECONDS
) -> ProbeResult:
    """Probe `url` for `seconds`."""
    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(seconds, stop.set)
    return await probe_until(url, stop, interval)
