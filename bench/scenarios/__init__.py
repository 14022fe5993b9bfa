"""Benchmark scenarios, by name: what to seed and which requests to load.

A scenario is a setup coroutine that runs once, with Tortoise open on the benchmark database and
before any server starts, and returns the requests to send (`bench.registry`). Load generators
spread the list over their connections (connection k sends requests k, k+N, k+2N, ... in turn),
so a list of one request per member gives every connection its own members. Register one with::

    @scenario("tiers", "GET /api/v1/tiers as a member")
    async def tiers(ctx: SetupContext) -> list[Request]:
        return await member_requests(ctx, ctx.connections, "GET", "/api/v1/tiers")

The bare aiohttp baseline answers any method and path, so it gets the very same list.
Scenarios live by channel: `member` (mini-program reads and check-in), `shop` (till, coupon
centre, points mall), `bot` (Official Account pushes).
"""

from bench.registry import SCENARIOS, Scenario, SetupContext, get_scenario, scenario
from bench.scenarios import bot, member, shop  # importing them registers their scenarios
from bench.scenarios.common import member_requests

__all__ = [
    "SCENARIOS",
    "Scenario",
    "SetupContext",
    "bot",
    "get_scenario",
    "member",
    "member_requests",
    "scenario",
    "shop",
]
