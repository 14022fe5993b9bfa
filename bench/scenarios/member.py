"""Member scenarios: the mini-program's reads (card, card image, tiers) and the daily check-in."""

from __future__ import annotations

from types import SimpleNamespace
from typing import cast

from bench.prepared import Request
from bench.registry import SetupContext, scenario
from bench.scenarios.common import as_member, member_requests
from bench.seed import seed_members, tier_ladder
from cards.card_image import etag_of, face_of
from cards.fonts import card_font_path
from handlers.members.cards import tier_of
from wxmember.core.context import Services

# Members per connection for reads: enough that connections do not share a member.
MEMBERS_PER_CONNECTION = 4
# Ceilings of request/s used to size the lists of once-only requests (see request_budget).
CARD_DRAW_MAX_RPS = 150
CHECKIN_MAX_RPS = 1500


@scenario("healthz", "GET /healthz: the process answering, no database, no session")
async def healthz(ctx: SetupContext) -> list[Request]:
    return [Request("GET", "/healthz")]


@scenario("card", "GET /api/v1/card: session check, member and tier read, as distinct members")
async def card(ctx: SetupContext) -> list[Request]:
    count = ctx.connections * MEMBERS_PER_CONNECTION
    return await member_requests(ctx, count, "GET", "/api/v1/card")


@scenario(
    "card-image",
    "GET /api/v1/card/image, cached: 4 members per connection, all drawn in a priming pass, "
    "so every timed request is a cache hit (Redis, or the in-process stand-in on sqlite)",
    prime=True,
)
async def card_image(ctx: SetupContext) -> list[Request]:
    count = ctx.connections * MEMBERS_PER_CONNECTION
    return await member_requests(ctx, count, "GET", "/api/v1/card/image")


@scenario(
    "card-image-uncached",
    "GET /api/v1/card/image, every request a member never drawn before (one request per "
    f"member, sized for {CARD_DRAW_MAX_RPS} request/s), so every one draws the face; "
    "GET /healthz probed one at a time, idle and while the faces are drawn",
    once=True,
    probe="/healthz",
)
async def card_image_uncached(ctx: SetupContext) -> list[Request]:
    count = ctx.request_budget(CARD_DRAW_MAX_RPS)
    return await member_requests(ctx, count, "GET", "/api/v1/card/image")


@scenario(
    "card-image-304",
    "GET /api/v1/card/image with If-None-Match: the current ETag, answered 304 without a "
    "cache read or a drawing (4 members per connection)",
    ok_statuses=frozenset({304}),
)
async def card_image_304(ctx: SetupContext) -> list[Request]:
    members = await seed_members(ctx.connections * MEMBERS_PER_CONNECTION)
    font_path = card_font_path(ctx.config.brand.font_path)
    # face_of reads only services.config: the harness has the config, not a running service
    services = cast(Services, SimpleNamespace(config=ctx.config))
    requests = []
    for member in members:
        tier = await tier_of(member)
        etag = etag_of(member, tier, face_of(services, member, tier), font_path)
        plain = as_member(ctx, member, "GET", "/api/v1/card/image")
        requests.append(
            Request("GET", plain.path, (*plain.headers, ("If-None-Match", f'"{etag}"')))
        )
    return requests


@scenario(
    "tiers",
    "GET /api/v1/tiers: the four-tier ladder with benefits and the member's progress",
)
async def tiers(ctx: SetupContext) -> list[Request]:
    await tier_ladder(ctx.config)
    count = ctx.connections * MEMBERS_PER_CONNECTION
    return await member_requests(ctx, count, "GET", "/api/v1/tiers")


@scenario(
    "checkin",
    "POST /api/v1/checkins: today's check-in (points earned, streak), each member once "
    f"(one member per request, sized for {CHECKIN_MAX_RPS} request/s)",
    ok_statuses=frozenset({201}),
    once=True,
)
async def checkin(ctx: SetupContext) -> list[Request]:
    count = ctx.request_budget(CHECKIN_MAX_RPS)
    return await member_requests(ctx, count, "POST", "/api/v1/checkins")
