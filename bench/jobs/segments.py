"""`segments`: saved segments' live counts at production size.

Seeds members (tiers, birthdays, points), their purchases (some refunded), tags, RFM rows,
Official Account followers and subscribe grants, then times `handlers.segments.saved.count`
for a few representative filters in the service's own process: the issue's goal is every
count under 2 s at 1,000,000 members. Two filters are also counted directly from the seeded
rows to check the compiled statement.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bench.jobs.context import Context, Prepared, Sizes, check
from bench.jobs.people import MemberFactory
from bench.jobs.plans import explain
from bench.jobs.seed_purchases import MEMBER_TABLES, STORES, PurchaseSeeder, RowBuffer
from handlers.segments.criteria import Criteria
from handlers.segments.filters import compile_filter, count_text
from handlers.segments.rules import Segment

DEFAULT_MEMBERS = 1_000_000
TAGS = 20
TEMPLATE = "tpl-bench"
RFM_COLUMNS = (
    "id",
    "member_id",
    "recency_days",
    "frequency",
    "monetary_fen",
    "r_score",
    "f_score",
    "m_score",
    "segment",
    "first_purchase_at",
    "last_purchase_at",
    "computed_on",
)
FOLLOWER_COLUMNS = ("id", "openid", "member_id", "subscribed", "created_at", "updated_at")
GRANT_COLUMNS = ("id", "member_id", "template_id", "remaining", "created_at", "updated_at")
TAG_COLUMNS = ("id", "name", "name_key", "colour", "description", "created_at")
MEMBER_TAG_COLUMNS = ("id", "member_id", "tag_id", "tagged_at")
TABLES = (
    "members",
    "pos_purchases",
    "pos_purchase_refunds",
    "member_rfm",
    "bot_followers",
    "subscribe_grants",
    "tags",
    "member_tags",
)


def filters(ctx: Context) -> dict[str, dict[str, Any]]:
    """The filters timed: each criterion family alone, then together."""
    half_year = (ctx.today - timedelta(days=180)).isoformat()
    top = [rung.id for rung in ctx.ladder if rung.level >= 2]
    return {
        "tier and birthday month": {"tier_ids": top, "birth_months": [ctx.today.month]},
        "RFM segment and score": {"rfm_segments": ["important_winback"], "r_score": {"max": 2}},
        "purchases: count and amount": {
            "purchase_count": {"min": 3},
            "purchase_amount_fen": {"min": 50_000},
        },
        "no purchase for six months": {"last_purchase_before": half_year},
        "store": {"stores": [STORES[0]]},
        "tags any / none": {"tags_any": [1, 2], "tags_none": [3]},
        "follows and holds a grant": {
            "follows_official_account": True,
            "subscribe_template_id": TEMPLATE,
        },
        "come-back coupon (combined)": {
            "rfm_segments": ["important_winback", "general_winback"],
            "last_purchase_before": half_year,
            "purchase_amount_fen": {"min": 10_000},
            "follows_official_account": True,
            "tags_none": [3],
            "points_balance": {"min": 100},
        },
    }


async def prepare(ctx: Context, sizes: Sizes) -> Prepared:
    members = sizes.members or DEFAULT_MEMBERS
    rng = ctx.rng
    now = ctx.now
    seeder = PurchaseSeeder(MemberFactory(rng, now), ctx.ladder, now, days=730)
    expected = {"tier and birthday month": 0, "tags any / none": 0}
    top = {rung.id for rung in ctx.ladder if rung.level >= 2}
    buffer = RowBuffer(
        ctx.loader,
        MEMBER_TABLES
        + (
            ("member_rfm", RFM_COLUMNS),
            ("bot_followers", FOLLOWER_COLUMNS),
            ("subscribe_grants", GRANT_COLUMNS),
            ("member_tags", MEMBER_TAG_COLUMNS),
        ),
    )
    rows = buffer.rows
    rfm_id = follower_id = grant_id = link_id = 0
    segments = [str(s) for s in Segment]
    await ctx.loader.copy(
        "tags",
        TAG_COLUMNS,
        [(n, f"标签{n}", f"标签{n}", None, "", now) for n in range(1, TAGS + 1)],
    )

    for member_id in range(1, members + 1):
        member = seeder.member(member_id, buffer)
        live = member.has_card and not member.deleted
        if not member.has_card:
            continue
        bought, last = len(member.purchases), member.last_purchase_at
        r, f, m = (rng.randint(1, 5) for _ in range(3))
        rfm_id += 1
        rows["member_rfm"].append(
            (
                rfm_id,
                member_id,
                (now - last).days if last else None,
                bought,
                0,
                r if last else None,
                f if last else None,
                m if last else None,
                rng.choice(segments) if last else "never_purchased",
                last,
                last,
                ctx.today,
            )
        )
        if rng.random() < 0.4:
            follower_id += 1
            rows["bot_followers"].append(
                (follower_id, f"oa-seg-{member_id}", member_id, rng.random() < 0.85, now, now)
            )
        if rng.random() < 0.2:
            grant_id += 1
            rows["subscribe_grants"].append(
                (grant_id, member_id, TEMPLATE, rng.choice((0, 1, 2)), now, now)
            )
        carried = set(rng.sample(range(1, TAGS + 1), rng.choice((0, 0, 0, 1, 2, 3))))
        for tag in sorted(carried):
            link_id += 1
            rows["member_tags"].append((link_id, member_id, tag, now))
        if live:
            month = member.birthday.month if member.birthday else None
            if member.tier_id in top and month == ctx.today.month:
                expected["tier and birthday month"] += 1
            if carried & {1, 2} and 3 not in carried:
                expected["tags any / none"] += 1
        await buffer.flush()
    await buffer.flush(final=True)
    purchase_id = seeder.purchase_id
    return Prepared(
        parameters={
            "members": members,
            "filters": filters(ctx),
            "purchases_per_card_holder": "0, 0, 1, 1, 2, 3, 4 or 6 (drawn evenly)",
            "refunds": "1 purchase in 20 refunded in part, 1 in 20 in full",
            "tags": TAGS,
            "stores": len(STORES),
        },
        seeded={
            "purchases": purchase_id,
            "refunds": seeder.refund_id,
            "member_tags": link_id,
            "followers": follower_id,
        },
        params={"filters": filters(ctx), "repeats": sizes.repeats},
        tables=TABLES,
        state=expected,
        notes=[
            "Counts run in the service's process through handlers.segments.saved.count; "
            "each filter is counted `repeats` times after one warm-up.",
        ],
    )


async def plans(ctx: Context, prepared: Prepared, stage: str) -> list[dict[str, Any]]:
    if stage != "before":
        return []
    found = []
    for title, criteria in prepared.params["filters"].items():
        compiled = compile_filter(
            Criteria.model_validate(criteria), "postgres", ctx.config.brand.tz
        )
        sql = count_text(compiled)  # the text `count_sql` runs on PostgreSQL
        found.append(await explain(ctx.conn, f"count: {title}", sql, compiled.params))
    return found


async def verify(ctx: Context, prepared: Prepared, job: dict[str, Any]) -> dict[str, Any]:
    counts = job["result"]["counts"]
    expected: dict[str, int] = prepared.state
    return {f"count of {name}": check(value, counts[name]) for name, value in expected.items()}


def headline(prepared: Prepared, job: dict[str, Any]) -> dict[str, Any]:
    result = job["result"]
    seconds, counts = result["median_seconds"], result["counts"]
    return {"members": prepared.parameters["members"]} | {
        f"{name} (median s, count)": f"{seconds[name]} s, {counts[name]:,}" for name in counts
    }
