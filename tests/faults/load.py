"""The load of a fault scenario: members' requests through nginx, every outcome tallied.

A load is a number of client loops, each sending one request after another until told to
stop (or until its plan runs out). Every answer is recorded with when it was sent, how long
it took, its status and its error code; a request that got no HTTP answer at all is recorded
under the exception's name. Scenarios then ask what failed, when, and for how long.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import aiohttp


@dataclass(frozen=True)
class Call:
    """One request of the plan: a label for the tally, the method, the path and the headers."""

    label: str
    method: str
    path: str
    headers: dict[str, str]


@dataclass(frozen=True)
class Outcome:
    label: str
    sent_at: float
    seconds: float
    status: int  # 0: no HTTP answer
    code: str  # the error code, "ok", "not_json" (nginx's page) or the exception's name

    @property
    def answered(self) -> bool:
        return self.status != 0


@dataclass
class Tally:
    outcomes: list[Outcome] = field(default_factory=list)

    def counts(self) -> Counter[tuple[str, int, str]]:
        return Counter((o.label, o.status, o.code) for o in self.outcomes)

    def where(self, keep: Callable[[Outcome], bool]) -> list[Outcome]:
        return [o for o in self.outcomes if keep(o)]

    def failures(self, expected: Iterable[tuple[int, str]]) -> list[Outcome]:
        """Outcomes other than success and the expected refusals (e.g. (409, "sold_out"))."""
        allowed = set(expected)
        return [o for o in self.outcomes if o.status >= 500 or o.status == 0] + [
            o for o in self.outcomes if 400 <= o.status < 500 and (o.status, o.code) not in allowed
        ]

    def slowest(self) -> float:
        return max((o.seconds for o in self.outcomes), default=0.0)


async def _send(session: aiohttp.ClientSession, base: str, call: Call) -> Outcome:
    started = time.monotonic()
    try:
        async with session.request(call.method, base + call.path, headers=call.headers) as r:
            await r.read()
            code = "ok"
            if r.status >= 400:
                try:
                    code = str((await r.json(content_type=None))["error"]["code"])
                except (ValueError, KeyError, TypeError):
                    code = "not_json"  # nginx's own page: no worker answered
            status = r.status
    except (aiohttp.ClientError, TimeoutError) as exc:
        status, code = 0, type(exc).__name__
    return Outcome(call.label, started, time.monotonic() - started, status, code)


async def run_load(
    base: str,
    calls: Iterator[Call],
    *,
    clients: int,
    stop: asyncio.Event,
    timeout: float = 30.0,
    rate: float | None = None,
) -> Tally:
    """Send `calls` from `clients` loops until `stop` is set or the calls run out; at most
    `rate` requests a second in all when given."""
    tally = Tally()
    started = time.monotonic()
    sent = itertools.count()
    connector = aiohttp.TCPConnector(limit=clients, force_close=False)
    client_timeout = aiohttp.ClientTimeout(total=timeout)
    async with aiohttp.ClientSession(connector=connector, timeout=client_timeout) as session:

        async def loop() -> None:
            while not stop.is_set():
                call = next(calls, None)
                if call is None:
                    return
                if rate is not None:
                    due = started + next(sent) / rate
                    await asyncio.sleep(max(0.0, due - time.monotonic()))
                tally.outcomes.append(await _send(session, base, call))

        await asyncio.gather(*(loop() for _ in range(clients)))
    return tally


def cycle(calls: list[Call]) -> Iterator[Call]:
    """The calls over and over, for a load that runs until stopped."""
    return itertools.cycle(calls)


async def wait_until(predicate: Callable[[], bool], *, timeout: float, step: float = 0.05) -> float:
    """Seconds until `predicate()` held; AssertionError past `timeout`."""
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"not within {timeout} s")
        await asyncio.sleep(step)
    return time.monotonic() - started
