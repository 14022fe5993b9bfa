"""`dashboard`: the first run of the daily figures' job (every day since the first member),
then the dashboard's reads: today live, and the last 30 and 90 days from the stored figures."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from bench.jobs.context import Context, Prepared, Sizes, check
from bench.jobs.plans import explain, statement
from bench.jobs.seed_dashboard import SHARES, DashboardSeed, DashboardSeeder
from handlers.dashboard import figures as sql
from wxmember.core.localtime import local_midnight
from wxmember.core.models.dashboard import DashboardDay

DEFAULT_MEMBERS = 1_000_000
DEFAULT_LEDGER = 10_000_000
TABLES = (
    "members",
    "tier_changes",
    "bot_followers",
    "points_entries",
    "checkins",
    "pos_purchases",
    "coupons",
    "mall_orders",
    "reminder_deliveries",
)
# What a day's figures count, and how the stored days are read, as the handlers run them.
DAY_QUERIES = (
    ("cards opened", sql._NEW_CARDS),
    ("active members", sql._ACTIVE),
    ("check-ins", sql._CHECKINS),
    ("points by kind", sql._POINTS),
    ("coupons handed out per template", sql._COUPONS_CLAIMED),
    ("coupons redeemed per template", sql._COUPONS_REDEEMED),
    ("tier moves", sql._TIER_MOVES),
)


def _first_day(ctx: Context, seed: DashboardSeed) -> date:
    return seed.start.astimezone(ctx.config.brand.tz).date()


async def prepare(ctx: Context, sizes: Sizes) -> Prepared:
    members = sizes.members or DEFAULT_MEMBERS
    ledger = sizes.ledger or DEFAULT_LEDGER
    seeder = DashboardSeeder(
        ctx.config.brand.timezone, ctx.ladder, ctx.rng, ctx.now, sizes.history_days
    )
    seed = await seeder.seed(ctx.conn, ctx.loader, members, ledger)
    first = _first_day(ctx, seed)
    return Prepared(
        parameters={
            "members": members,
            "ledger_rows": ledger,
            "history_days": sizes.history_days,
            "window": f"{seed.start.isoformat()} .. {ctx.now.isoformat()}",
            "days_to_store": (ctx.today - first).days,
            "other_tables_per_ledger_row": SHARES,
            "reads_repeated": sizes.repeats,
        },
        seeded={
            "members_by_tier": seed.by_tier,
            "followers": seed.followers,
            "unfollowed": seed.unfollowed,
            "server_side_insert_seconds": seed.seconds,
        },
        params={"repeats": sizes.repeats},
        tables=TABLES,
        state=seed,
        notes=[
            "Members, tier changes and followers are COPYed; the event tables are generated in "
            "the server (INSERT ... SELECT over generate_series), in time order.",
        ],
    )


async def plans(ctx: Context, prepared: Prepared, stage: str) -> list[dict[str, Any]]:
    yesterday = ctx.today - timedelta(days=1)
    start, end = (
        local_midnight(yesterday, ctx.config.brand.tz),
        local_midnight(ctx.today, ctx.config.brand.tz),
    )
    if stage == "before":
        found = []
        for title, text in DAY_QUERIES:
            params: list[Any] = [start, end]
            if text is sql._ACTIVE:
                params.append("claim")
            found.append(await explain(ctx.conn, f"a day: {title}", text, params))
        found.append(await explain(ctx.conn, "a day: reminders", sql._REMINDERS, [yesterday]))
        followers = [end, True, False]
        found.append(await explain(ctx.conn, "a day: followers", sql._FOLLOWERS_AT, followers))
        return found
    stored = DashboardDay.filter(
        day__gte=ctx.today - timedelta(days=89), day__lt=ctx.today
    ).order_by("day")
    return [await explain(ctx.conn, "the 90 stored days of a period", *statement(stored))]


async def verify(ctx: Context, prepared: Prepared, job: dict[str, Any]) -> dict[str, Any]:
    seed: DashboardSeed = prepared.state
    fetch = ctx.conn.fetchval
    result = job["result"]
    today = result["today"]
    first = _first_day(ctx, seed)
    yesterday = ctx.today - timedelta(days=1)
    stored = await ctx.conn.fetchrow(
        "SELECT count(*) AS n, min(day) AS first, max(day) AS last FROM dashboard_days"
    )
    sums = await ctx.conn.fetchrow(
        "SELECT sum(new_cards) AS cards, sum(checkins) AS checkins,"
        " sum(coupons_claimed) AS claimed, sum(coupons_redeemed) AS redeemed,"
        " sum(mall_redemptions) AS mall, sum(points_net) AS net FROM dashboard_days"
    )
    tiers = {
        str(row["tier_id"]): row["n"]
        for row in await ctx.conn.fetch(
            "SELECT tier_id, count(*) AS n FROM members WHERE card_no IS NOT NULL GROUP BY 1"
        )
    }
    deliveries = await fetch("SELECT count(*) FROM reminder_deliveries")
    return {
        "days stored (first member's day to yesterday)": check(
            ((yesterday - first).days + 1, first, yesterday),
            (stored["n"], stored["first"], stored["last"]),
        ),
        "second run stores nothing": check(0, result["again"]["stored"]),
        "today: card holders": check(
            await fetch("SELECT count(*) FROM members WHERE card_no IS NOT NULL"),
            today["members"],
        ),
        "today: members per tier": check(tiers, today["tiers"]),
        "today: outstanding points == sum of balances": check(
            await fetch("SELECT sum(points_balance) FROM members"), today["points_liability"]
        ),
        "today: outstanding points == sum of the ledger": check(
            await fetch("SELECT sum(amount) FROM points_entries"), today["points_liability"]
        ),
        "today: followers": check(
            await fetch("SELECT count(*) FROM bot_followers WHERE subscribed"), today["followers"]
        ),
        "all days: cards opened": check(
            await fetch("SELECT count(*) FROM members"), sums["cards"] + today["new_cards"]
        ),
        "all days: check-ins": check(
            await fetch("SELECT count(*) FROM checkins"), sums["checkins"] + today["checkins"]
        ),
        "all days: coupons handed out": check(
            await fetch("SELECT count(*) FROM coupons"), sums["claimed"] + today["coupons_claimed"]
        ),
        "all days: coupons redeemed": check(
            await fetch("SELECT count(*) FROM coupons WHERE used_at IS NOT NULL"),
            sums["redeemed"] + today["coupons_redeemed"],
        ),
        "all days: mall redemptions": check(
            await fetch("SELECT count(*) FROM mall_orders"),
            sums["mall"] + today["mall_redemptions"],
        ),
        "all days: net points": check(
            await fetch("SELECT sum(amount) FROM points_entries"), sums["net"] + today["points_net"]
        ),
        "all days: reminder deliveries": check(
            deliveries,
            await fetch(
                "SELECT COALESCE(sum(value::int), 0) FROM dashboard_days,"
                " jsonb_each_text(reminders)"
            )
            + sum(today["reminders"].values()),
        ),
    }


def headline(prepared: Prepared, job: dict[str, Any]) -> dict[str, Any]:
    result = job["result"]
    days = result["backfill"]["stored"]
    seconds = result["backfill_seconds"]
    reads = result["reads"]
    return {
        "members": prepared.parameters["members"],
        "ledger_rows": prepared.parameters["ledger_rows"],
        "days_stored": days,
        "backfill_seconds": seconds,
        "days_per_second": round(days / seconds, 2) if seconds else None,
        "today_live_median_ms": reads["today"]["median_ms"],
        "page_30_days_median_ms": reads["page_30"]["median_ms"],
        "page_90_days_median_ms": reads["page_90"]["median_ms"],
        "charts_90_days_median_ms": reads["charts_90"]["median_ms"],
        "slowest_read_ms": max(read["max_ms"] for read in reads.values()),
    }
