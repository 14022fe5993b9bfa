"""The scenario registry: what a scenario is, what its setup gets, and `@scenario` to add one.

A scenario is a setup coroutine that runs once, with Tortoise open on the benchmark database and
before any server starts, and returns the requests to send. Optionally it names more servers to
load beside the bare baseline (`targets`), asks for one priming pass over its requests before the
timed load (`prime`), checks the database after the run (`check`), and names a cheap path to
probe for latency while the load runs (`probe`).
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.prepared import Request
from wxmember.core.config import Config

OK = frozenset({200})
# Requests prepared per request/s a scenario might reach, over warm-up plus duration: a margin,
# since a list that runs out repeats its first requests (the report counts those repeats).
HEADROOM = 1.25


class CheckFailed(AssertionError):
    """The database after a run breaks what the scenario guarantees (e.g. an oversold stock)."""


@dataclass
class SetupContext:
    """What a setup (and a check) may use: the service's config, the load settings, and room for
    facts the check needs and notes for the report."""

    config: Config
    connections: int
    duration: float
    warmup: float = 0.0
    requests: int | None = None  # a request-count run: exactly this many requests
    facts: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def request_budget(self, max_rps: float) -> int:
        """How many distinct requests a run at up to `max_rps` sends (warm-up included)."""
        if self.requests is not None:
            return self.requests
        seconds = self.warmup + max(1.0, round(self.duration))
        return math.ceil(max_rps * seconds * HEADROOM) + self.connections


@dataclass(frozen=True)
class Target:
    """A server loaded beside the baseline and the service, with the same requests.

    `command(port)` starts it listening on 127.0.0.1:port; it must answer `GET /healthz`.
    `env` is added to the service's environment.
    """

    name: str
    command: Callable[[int], list[str]]
    cwd: Path
    env: Mapping[str, str] = field(default_factory=dict)


Setup = Callable[[SetupContext], Awaitable[list[Request]]]
Check = Callable[[SetupContext], Awaitable[list[str]]]
Targets = Callable[[SetupContext], list[Target]]


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    setup: Setup
    # statuses that count as success; anything else is an error in the report
    ok_statuses: frozenset[int] = OK
    # every prepared request is meant to be sent once: the report says when some were repeated
    once: bool = False
    # send every prepared request once, untimed, before the warm-up (fills caches)
    prime: bool = False
    check: Check | None = None
    targets: Targets | None = None
    # a cheap path probed one request at a time, idle and during the load (bench/probe.py)
    probe: str | None = None


SCENARIOS: dict[str, Scenario] = {}


def scenario(
    name: str,
    description: str,
    *,
    ok_statuses: frozenset[int] = OK,
    once: bool = False,
    prime: bool = False,
    check: Check | None = None,
    targets: Targets | None = None,
    probe: str | None = None,
) -> Callable[[Setup], Setup]:
    """Register the decorated setup coroutine as scenario `name`."""

    def register(setup: Setup) -> Setup:
        if name in SCENARIOS:
            raise ValueError(f"scenario {name!r} is registered twice")
        SCENARIOS[name] = Scenario(
            name, description, setup, ok_statuses, once, prime, check, targets, probe
        )
        return setup

    return register


def get_scenario(name: str) -> Scenario:
    try:
        return SCENARIOS[name]
    except KeyError:
        known = ", ".join(sorted(SCENARIOS))
        raise KeyError(f"unknown scenario {name!r}; known: {known}") from None
