"""Shop scenarios: the till's purchase, the coupon centre's flash sale, the points mall.

Each write scenario sends every request once (distinct order numbers, idempotency keys or
claim attempts) and checks the database after the run: the ledger invariant, the stock, and
for the flash sale that exactly the stock was issued.
"""

from __future__ import annotations

import random
import secrets

from bench.load import LoadResult
from bench.prepared import Request, json_request
from bench.registry import CheckFailed, SetupContext, scenario
from bench.scenarios.common import as_member
from bench.seed import bearer, cashier_token, seed_members
from bench.seed_shop import (
    bench_store,
    coupon_items,
    coupon_template,
    grant_points,
    ledger_mismatches,
)
from wxmember.core.models.coupons import Coupon, CouponTemplate
from wxmember.core.models.mall import MallItem, MallOrder

PURCHASE_MAX_RPS = 1500
PURCHASE_MEMBERS = 1000
REDEEM_MAX_RPS = 1500
REDEEM_MEMBERS_PER_CONNECTION = 16
REDEEM_POINTS = 1_000_000
REDEEM_PRICE = 100
REDEEM_STOCK = 10_000_000
SPREAD_ITEMS = 100
FLASH_STOCK = 1000
FLASH_MEMBERS = 5000
SHUFFLE_SEED = 20261125


def _service_statuses(ctx: SetupContext) -> dict[str, int]:
    result: LoadResult | None = ctx.facts.get("service_result")
    return result.statuses if result is not None else {}


async def _check_ledger(ctx: SetupContext) -> list[str]:
    broken = await ledger_mismatches()
    if broken:
        raise CheckFailed(f"{broken} members' balances differ from their ledger or lots")
    return ["ledger: every balance == sum(entries) == sum(lots)"]


@scenario(
    "purchase",
    "POST /admin/api/v1/pos/purchases as a cashier: a new order number per request, "
    f"{PURCHASE_MEMBERS} members in turn (points and growth credited, tier multiplier)",
    ok_statuses=frozenset({201}),
    once=True,
    check=_check_ledger,
)
async def purchase(ctx: SetupContext) -> list[Request]:
    members = await seed_members(PURCHASE_MEMBERS)
    auth = bearer(await cashier_token(ctx.config))
    store = await bench_store()
    tag = secrets.token_hex(3)
    return [
        json_request(
            "POST",
            "/admin/api/v1/pos/purchases",
            {
                "member_id": members[n % len(members)].id,
                "order_no": f"BENCH-{tag}-{n}",
                "amount_fen": (n % 50 + 1) * 1000,
                "store": store,
            },
            auth,
        )
        for n in range(ctx.request_budget(PURCHASE_MAX_RPS))
    ]


async def _check_flash_sale(ctx: SetupContext) -> list[str]:
    template = await CouponTemplate.get(id=ctx.facts["template_id"])
    issued = await Coupon.filter(template_id=template.id).count()
    holders = (
        await Coupon.filter(template_id=template.id).distinct().values_list("member_id", flat=True)
    )
    created = _service_statuses(ctx).get("201", 0)
    note = (
        f"ISSUED COUNT {issued} of stock {FLASH_STOCK} (template remaining {template.remaining}, "
        f"claimed {template.claimed}; {len(holders)} holders; {created} answers 201)"
    )
    if not (issued == FLASH_STOCK == template.claimed == len(holders) == created):
        raise CheckFailed(note)
    if template.remaining != 0:
        raise CheckFailed(note)
    return [note]


@scenario(
    "claim",
    f"POST /api/v1/coupons/center/{{id}}/claim, flash sale: stock {FLASH_STOCK}, "
    f"{FLASH_MEMBERS} members, one limit each, attempts in shuffled (member, claim) pairs "
    "(a request-count run: --requests N attempts); 409 sold_out/limit_reached expected; "
    "checks that exactly the stock was issued",
    ok_statuses=frozenset({201, 409}),
    once=True,
    check=_check_flash_sale,
)
async def claim(ctx: SetupContext) -> list[Request]:
    if ctx.requests is None:
        # a timed run would spend the stock in its warm-up and never end the sale
        raise ValueError("claim is a request-count run: pass --requests N (e.g. 20000)")
    template = await coupon_template("限时抢券", stock=FLASH_STOCK)
    ctx.facts["template_id"] = template.id
    members = await seed_members(FLASH_MEMBERS)
    attempts = ctx.requests
    path = f"/api/v1/coupons/center/{template.id}/claim"
    requests = [as_member(ctx, members[n % len(members)], "POST", path) for n in range(attempts)]
    random.Random(SHUFFLE_SEED).shuffle(requests)
    return requests


SOLD_OUT_MEMBERS = 2000


async def _check_sold_out(ctx: SetupContext) -> list[str]:
    template = await CouponTemplate.get(id=ctx.facts["template_id"])
    issued = await Coupon.filter(template_id=template.id).count()
    answered = _service_statuses(ctx)
    note = (
        f"ISSUED COUNT {issued} after the sale (template remaining {template.remaining}, "
        f"claimed {template.claimed}); answers {answered}"
    )
    if issued != 0 or template.remaining != 0 or set(answered) - {"409"}:
        raise CheckFailed(note)
    return [note]


@scenario(
    "claim-sold-out",
    "POST /api/v1/coupons/center/{id}/claim after a flash sale: the stock all taken, "
    f"{SOLD_OUT_MEMBERS} members asking in turn; every answer is 409 sold_out; checks that "
    "nothing was issued",
    ok_statuses=frozenset({409}),
    check=_check_sold_out,
)
async def claim_sold_out(ctx: SetupContext) -> list[Request]:
    template = await coupon_template("已抢光", stock=FLASH_STOCK)
    await CouponTemplate.filter(id=template.id).update(remaining=0, claimed=FLASH_STOCK)
    ctx.facts["template_id"] = template.id
    members = await seed_members(SOLD_OUT_MEMBERS)
    path = f"/api/v1/coupons/center/{template.id}/claim"
    return [as_member(ctx, member, "POST", path) for member in members]


async def _redeem_setup(ctx: SetupContext, item_count: int) -> list[Request]:
    members = await seed_members(ctx.connections * REDEEM_MEMBERS_PER_CONNECTION)
    await grant_points(ctx.config, members, REDEEM_POINTS)
    if await ledger_mismatches():
        raise CheckFailed("the seeded points break the ledger invariant")
    items = await coupon_items(item_count, stock=REDEEM_STOCK, price=REDEEM_PRICE)
    ctx.facts["item_ids"] = [item.id for item in items]
    pick = random.Random(SHUFFLE_SEED)
    tag = secrets.token_hex(3)
    requests = []
    for n in range(ctx.request_budget(REDEEM_MAX_RPS)):
        item = items[0] if item_count == 1 else pick.choice(items)
        request = as_member(
            ctx,
            members[n % len(members)],
            "POST",
            "/api/v1/mall/redemptions",
            {"item_id": item.id, "quantity": 1},
        )
        key = ("Idempotency-Key", f"bench-{tag}-{n}")
        requests.append(
            Request(request.method, request.path, (*request.headers, key), request.body)
        )
    return requests


async def _check_redemptions(ctx: SetupContext) -> list[str]:
    notes = await _check_ledger(ctx)
    items = await MallItem.filter(id__in=ctx.facts["item_ids"])
    sold = sum(item.sold for item in items)
    if any(item.stock + item.sold != REDEEM_STOCK for item in items):
        raise CheckFailed("an item's stock + sold differs from the stock seeded")
    orders = await MallOrder.filter(item_id__in=ctx.facts["item_ids"]).count()
    if orders != sold:
        raise CheckFailed(f"{orders} orders but {sold} units sold")
    # the warm-up's orders count too, the answers only in the measured part
    created = _service_statuses(ctx).get("201", 0)
    return [*notes, f"{orders} orders == units sold (warm-up included; {created} answers 201)"]


@scenario(
    "redeem-hot",
    "POST /api/v1/mall/redemptions, hot item: every request redeems the same coupon item "
    f"(stock {REDEEM_STOCK:,}), a new Idempotency-Key each, "
    f"{REDEEM_MEMBERS_PER_CONNECTION} members per connection in turn",
    ok_statuses=frozenset({201}),
    once=True,
    check=_check_redemptions,
)
async def redeem_hot(ctx: SetupContext) -> list[Request]:
    return await _redeem_setup(ctx, 1)


@scenario(
    "redeem-spread",
    f"POST /api/v1/mall/redemptions, spread: {SPREAD_ITEMS} coupon items picked at random, "
    f"a new Idempotency-Key each, {REDEEM_MEMBERS_PER_CONNECTION} members per connection in turn",
    ok_statuses=frozenset({201}),
    once=True,
    check=_check_redemptions,
)
async def redeem_spread(ctx: SetupContext) -> list[Request]:
    return await _redeem_setup(ctx, SPREAD_ITEMS)


READ_MEMBERS_PER_CONNECTION = 4
CENTRE_TEMPLATES = 12


@scenario(
    "points",
    "GET /api/v1/points: balance, debt and what expires within 30 days, for members holding "
    "points (4 members per connection)",
)
async def points_summary(ctx: SetupContext) -> list[Request]:
    members = await seed_members(ctx.connections * READ_MEMBERS_PER_CONNECTION)
    await grant_points(ctx.config, members, 500)
    return [as_member(ctx, member, "GET", "/api/v1/points") for member in members]


@scenario(
    "coupon-centre",
    f"GET /api/v1/coupons/center: the {CENTRE_TEMPLATES} claimable coupons with stock and what "
    "the member may still claim (4 members per connection)",
)
async def coupon_centre(ctx: SetupContext) -> list[Request]:
    for n in range(CENTRE_TEMPLATES):
        await coupon_template(f"满50减5 · {n + 1}", stock=10_000)
    members = await seed_members(ctx.connections * READ_MEMBERS_PER_CONNECTION)
    return [as_member(ctx, member, "GET", "/api/v1/coupons/center") for member in members]
