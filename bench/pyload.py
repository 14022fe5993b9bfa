"""The built-in load generator: N coroutines on one aiohttp session, in a process of its own.

    python -m bench.pyload JOB.json   (written by bench.load; prints one JSON object)

Each coroutine stands for one connection: it sends its share of the prepared requests in turn
(requests k, k+N, k+2N, ...) back to back until the deadline. Every latency is kept and sorted at
the end, so the percentiles are exact. Requests started before the deadline are waited for and
counted; the rate is divided by the time until the last of them finished.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from itertools import cycle
from pathlib import Path
from typing import Any

import aiohttp

from bench.load import percentile
from bench.prepared import Request, read_requests


@dataclass
class Tally:
    samples: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)


def share(requests: list[Request], index: int, connections: int) -> list[Request]:
    """The requests connection `index` sends: every N-th one, or all when there are fewer."""
    mine = requests[index::connections]
    return mine or requests


async def _connection(
    session: aiohttp.ClientSession,
    base_url: str,
    requests: list[Request],
    deadline: float,
    tally: Tally | None,
) -> None:
    for request in cycle(requests):
        if time.perf_counter() >= deadline:
            return
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
            continue
        if tally is not None:
            tally.samples.append(time.perf_counter() - started)
            tally.statuses[status] += 1


async def _phase(
    session: aiohttp.ClientSession,
    job: dict[str, Any],
    requests: list[Request],
    seconds: float,
    tally: Tally | None,
) -> float:
    connections = job["connections"]
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(
        *(
            _connection(session, job["base_url"], share(requests, k, connections), deadline, tally)
            for k in range(connections)
        )
    )
    return time.perf_counter() - started


async def run(job: dict[str, Any]) -> dict[str, Any]:
    requests = read_requests(Path(job["requests_file"]))
    connector = aiohttp.TCPConnector(limit=job["connections"])
    timeout = aiohttp.ClientTimeout(total=job["timeout"])
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        if job["warmup"] > 0:
            await _phase(session, job, requests, job["warmup"], None)
        tally = Tally()
        seconds = await _phase(session, job, requests, job["duration"], tally)
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
    }


def main(argv: list[str]) -> int:
    job = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    print(json.dumps(asyncio.run(run(job))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
