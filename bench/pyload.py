"""The built-in load generator: N coroutines on one aiohttp session, in a process of its own.

    python -m bench.pyload JOB.json   (written by bench.load; prints one JSON object)

Each coroutine stands for one connection: it sends its share of the prepared requests in turn
(requests k, k+N, k+2N, ...) back to back until the deadline, the measured part going on where
the warm-up stopped. Every latency is kept and sorted at the end, so the percentiles are exact.
Requests started before the deadline are waited for and counted; the rate is divided by the
time until the last of them finished.

A request-count job (`requests`: R) sends exactly R requests, the first R of the list (going
round it when it is shorter), each connection its share, with no warm-up, and measures the time
until the last answer.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bench.cpu import CpuMeter
from bench.load import percentile
from bench.prepared import Request, read_requests


@dataclass
class Tally:
    samples: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)


@dataclass
class Share:
    """One connection's requests, and where it is in them (across warm-up and measurement)."""

    requests: list[Request]
    sent: int = 0
    repeated: int = 0

    def __iter__(self) -> Iterator[Request]:
        while True:
            if self.sent >= len(self.requests):
                self.repeated += 1
            request = self.requests[self.sent % len(self.requests)]
            self.sent += 1
            yield request


def share(requests: list[Request], index: int, connections: int) -> list[Request]:
    """The requests connection `index` sends: every N-th one, or all when there are fewer."""
    mine = requests[index::connections]
    return mine or requests


async def _send(
    session: aiohttp.ClientSession, base_url: str, request: Request, tally: Tally | None
) -> None:
    started = time.perf_counter()
    try:
        async with session.request(
            request.method,
            base_url + request.path,
            headers=request.headers,
            data=request.body or None,
        ) as response:
            await response.read()
            status = str(response.status)
    except (aiohttp.ClientError, TimeoutError) as exc:
        if tally is not None:
            tally.failures[type(exc).__name__] += 1
        return
    if tally is not None:
        tally.samples.append(time.perf_counter() - started)
        tally.statuses[status] += 1


async def _until(
    session: aiohttp.ClientSession,
    base_url: str,
    requests: Iterator[Request],
    deadline: float,
    tally: Tally | None,
) -> None:
    while time.perf_counter() < deadline:
        await _send(session, base_url, next(requests), tally)


async def _phase(
    session: aiohttp.ClientSession,
    base_url: str,
    shares: list[Iterator[Request]],
    seconds: float,
    tally: Tally | None,
) -> float:
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(*(_until(session, base_url, it, deadline, tally) for it in shares))
    return time.perf_counter() - started


async def _counted(
    session: aiohttp.ClientSession, base_url: str, lists: list[list[Request]], tally: Tally
) -> float:
    async def connection(requests: list[Request]) -> None:
        for request in requests:
            await _send(session, base_url, request, tally)

    started = time.perf_counter()
    await asyncio.gather(*(connection(requests) for requests in lists))
    return time.perf_counter() - started


async def run(job: dict[str, Any]) -> dict[str, Any]:
    requests = read_requests(Path(job["requests_file"]))
    connections = job["connections"]
    connector = aiohttp.TCPConnector(limit=connections)
    timeout = aiohttp.ClientTimeout(total=job["timeout"])
    tally = Tally()
    repeated = 0
    meter = CpuMeter.from_json(job.get("cpu"))
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        if job.get("requests"):
            count = job["requests"]
            repeated = max(0, count - len(requests))
            batch = [requests[n % len(requests)] for n in range(count)]
            lists = [batch[k::connections] for k in range(min(connections, count))]
            if meter:
                meter.start()
            seconds = await _counted(session, job["base_url"], lists, tally)
            cpu_seconds = meter.stop() if meter else {}
        else:
            shares = [Share(share(requests, k, connections)) for k in range(connections)]
            iterators = [iter(s) for s in shares]
            if job["warmup"] > 0:
                await _phase(session, job["base_url"], iterators, job["warmup"], None)
            if meter:
                meter.start()
            seconds = await _phase(session, job["base_url"], iterators, job["duration"], tally)
            cpu_seconds = meter.stop() if meter else {}
            repeated = sum(s.repeated for s in shares)
    samples = sorted(tally.samples)
    return {
        "requests": len(samples),
        "seconds": seconds,
        "p50_ms": percentile(samples, 50) * 1000,
        "p99_ms": percentile(samples, 99) * 1000,
        "mean_ms": sum(samples) / len(samples) * 1000 if samples else 0.0,
        "max_ms": samples[-1] * 1000 if samples else 0.0,
        "statuses": dict(tally.statuses),
        "failures": dict(tally.failures),
        "repeated": repeated,
        "cpu_seconds": cpu_seconds,
    }


def main(argv: list[str]) -> int:
    job = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    print(json.dumps(asyncio.run(run(job))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
