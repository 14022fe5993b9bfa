"""The priming pass: every prepared request sent once, untimed, before the load (fills caches)."""

from __future__ import annotations

import asyncio
from collections import Counter

import aiohttp

from bench.prepared import Request

PRIMING_CONCURRENCY = 8


async def prime(base_url: str, requests: list[Request]) -> dict[str, int]:
    """Send each request once, a few at a time; the count of each status answered."""
    statuses: Counter[str] = Counter()
    gate = asyncio.Semaphore(PRIMING_CONCURRENCY)
    timeout = aiohttp.ClientTimeout(total=60)

    async def send(session: aiohttp.ClientSession, request: Request) -> None:
        async with gate:
            async with session.request(
                request.method,
                base_url + request.path,
                headers=request.headers,
                data=request.body or None,
            ) as response:
                await response.read()
                statuses[str(response.status)] += 1

    async with aiohttp.ClientSession(timeout=timeout) as session:
        await asyncio.gather(*(send(session, request) for request in requests))
    return dict(statuses)
