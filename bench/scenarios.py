"""Benchmark scenarios, by name: what to seed and which requests to load.

A scenario is a setup coroutine that runs once, with Tortoise open on the benchmark database and
before the service starts, and returns the requests to send. Load generators spread the list
over their connections (connection k sends requests k, k+N, k+2N, ... in turn), so a list of one
request per member gives every connection its own members. Register a new one with::

    @scenario("tiers", "GET /api/v1/tiers as a member")
    async def tiers(ctx: SetupContext) -> list[Request]:
        return await member_requests(ctx, ctx.connections, "GET", "/api/v1/tiers")

The bare aiohttp baseline answers any method and path, so it gets the very same list.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from bench.prepared import Request, json_request
from bench.seed import member_token, seed_members
from wxmember.config import Config

OK = frozenset({200})


@dataclass(frozen=True)
class SetupContext:
    """What a setup coroutine may use: the service's config and the load settings."""

    config: Config
    connections: int
    duration: float


Setup = Callable[[SetupContext], Awaitable[list[Request]]]


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    setup: Setup
    # statuses that count as success; anything else is an error in the report
    ok_statuses: frozenset[int] = field(default=OK)


SCENARIOS: dict[str, Scenario] = {}


def scenario(
    name: str, description: str, *, ok_statuses: frozenset[int] = OK
) -> Callable[[Setup], Setup]:
    """Register the decorated setup coroutine as scenario `name`."""

    def register(setup: Setup) -> Setup:
        if name in SCENARIOS:
            raise ValueError(f"scenario {name!r} is registered twice")
        SCENARIOS[name] = Scenario(name, description, setup, ok_statuses)
        return setup

    return register


def get_scenario(name: str) -> Scenario:
    try:
        return SCENARIOS[name]
    except KeyError:
        known = ", ".join(sorted(SCENARIOS))
        raise KeyError(f"unknown scenario {name!r}; known: {known}") from None


async def member_requests(
    ctx: SetupContext,
    count: int,
    method: str,
    path: str,
    payload: Any = None,
) -> list[Request]:
    """Seed `count` members with open cards; one request per member, with its own token."""
    requests = []
    for member in await seed_members(count):
        auth = (("Authorization", f"Bearer {member_token(ctx.config, member)}"),)
        if payload is None:
            requests.append(Request(method, path, auth))
        else:
            requests.append(json_request(method, path, payload, auth))
    return requests


@scenario("healthz", "GET /healthz: the process answering, no database, no session")
async def healthz(ctx: SetupContext) -> list[Request]:
    return [Request("GET", "/healthz")]


@scenario("card", "GET /api/v1/card: session check, member and tier read, as distinct members")
async def card(ctx: SetupContext) -> list[Request]:
    return await member_requests(ctx, ctx.connections * 4, "GET", "/api/v1/card")
