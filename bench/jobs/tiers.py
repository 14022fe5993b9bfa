"""`tiers`: the retention evaluation of the closed calendar year over the whole membership."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from tortoise.functions import Sum

from bench.jobs.context import Context, Prepared, Sizes, check
from bench.jobs.people import MemberFactory
from bench.jobs.plans import explain, statement
from bench.jobs.seed_tiers import TierSeed, TierSeeder
from handlers.tiers.periods import period_ending
from wxmember.core.models.growth import MemberPeriodGrowth
from wxmember.core.models.members import Member
from wxmember.core.models.tier_history import TierChange

DEFAULT_MEMBERS = 100_000
TABLES = ("members", "growth_entries", "member_period_growth", "tier_changes")


async def prepare(ctx: Context, sizes: Sizes) -> Prepared:
    members = sizes.members or DEFAULT_MEMBERS
    period_end = date(ctx.today.year - 1, 12, 31)
    seeder = TierSeeder(
        ctx.ladder,
        MemberFactory(ctx.rng, ctx.now),
        period_end,
        ctx.today,
        sizes.below_share,
        ctx.config.tiers.max_downgrade_levels,
        ctx.config.brand.tz,
    )
    seed = await seeder.seed(ctx.loader, members)
    upper = sum(n for name, n in seed.by_tier.items() if name != ctx.ladder[0].name)
    return Prepared(
        parameters={
            "members": members,
            "batch_size": sizes.batch_size,
            "period_end": period_end.isoformat(),
            "below_retention_share_of_upper_tiers": sizes.below_share,
            "ladder": [
                f"{r.name} growth {r.growth_threshold} keep {r.retention_threshold}"
                for r in ctx.ladder
            ],
        },
        seeded={
            "members_by_tier": dict(seed.by_tier),
            "upper_tier_members": upper,
            "below_retention": seed.below_retention,
            "upgraded_after_period": seed.skipped,
            "expected_downgrades": sum(seed.moves.values()),
        },
        params={"period_end": period_end.isoformat(), "batch_size": sizes.batch_size},
        tables=TABLES,
        state=seed,
    )


async def plans(ctx: Context, prepared: Prepared, stage: str) -> list[dict[str, Any]]:
    if stage != "before":
        return []
    period = period_ending(
        ctx.config.tiers.period, date.fromisoformat(prepared.params["period_end"])
    )
    upper = [r.id for r in ctx.ladder[1:]]
    size = prepared.params["batch_size"]
    candidates = Member.filter(id__gt=0, tier_id__in=upper, deleted_at__isnull=True)
    candidates = candidates.order_by("id").limit(size).only("id", "tier_id")
    ids = [row.id for row in await candidates]
    growth = (
        MemberPeriodGrowth.filter(
            member_id__in=ids, period__gte=period.first_month, period__lte=period.last_month
        )
        .annotate(growth=Sum("total"))
        .group_by("member_id")
        .values_list("member_id", "growth")
    )
    tz = ctx.config.brand.tz
    cutoff = datetime.combine(period.evaluation_date, time.min, tzinfo=tz).astimezone(UTC)
    recent = TierChange.filter(member_id__in=ids, created_at__gte=cutoff)
    recent_ids = recent.distinct().values_list("member_id", flat=True)
    titles_and_queries = [
        ("candidates: the first batch of upper-tier members", candidates),
        (f"period growth of a batch of {len(ids)} members", growth),
        ("members of the batch whose tier changed after the period", recent_ids),
    ]
    return [await explain(ctx.conn, title, *statement(q)) for title, q in titles_and_queries]


async def verify(ctx: Context, prepared: Prepared, job: dict[str, Any]) -> dict[str, Any]:
    seed: TierSeed = prepared.state
    report = job["result"]["report"]
    downgraded = await TierChange.filter(reason="downgrade", period_key=report["period_key"])
    bumped = await Member.filter(card_version=2).count()
    return {
        "status": check("finished", report["status"]),
        "checked": check(seed.checked, report["checked"]),
        "skipped (tier changed after the period)": check(seed.skipped, report["skipped"]),
        "downgraded": check(sum(seed.moves.values()), report["downgraded"]),
        "moves": check(dict(sorted(seed.moves.items())), dict(sorted(report["moves"].items()))),
        "downgrade rows in tier_changes": check(report["downgraded"], len(downgraded)),
        "card_version bumped": check(report["downgraded"], bumped),
    }


def headline(prepared: Prepared, job: dict[str, Any]) -> dict[str, Any]:
    report = job["result"]["report"]
    seconds = job["seconds"]
    examined = report["checked"] + report["skipped"]
    return {
        "members": prepared.parameters["members"],
        "members_per_second": round(prepared.parameters["members"] / seconds),
        "upper_tier_members_examined": examined,
        "examined_per_second": round(examined / seconds),
        "downgraded": report["downgraded"],
        "batches": report["batches"],
    }
