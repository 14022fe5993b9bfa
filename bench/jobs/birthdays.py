"""`birthdays`: select one day's birthdays for a birthday rule and claim their deliveries."""

from __future__ import annotations

from datetime import date
from typing import Any

from bench.jobs.context import Context, Prepared, Sizes, check
from bench.jobs.people import MemberFactory
from bench.jobs.plans import explain, statement
from bench.jobs.seed_birthdays import BirthdaySeed, BirthdaySeeder, create_birthday_rule
from handlers.reminders.candidates import birthdays_on
from wxmember.core.models.members import Member
from wxmember.core.models.reminders import ReminderDelivery

DEFAULT_MEMBERS = 1_000_000


async def prepare(ctx: Context, sizes: Sizes) -> Prepared:
    members = sizes.members or DEFAULT_MEMBERS
    day = sizes.day or ctx.today
    rule = await create_birthday_rule()
    seeder = BirthdaySeeder(MemberFactory(ctx.rng, ctx.now), ctx.ladder, rule)
    seed = await seeder.seed(ctx.loader, members, day, sizes.history_years)
    month, days = birthdays_on(day)
    return Prepared(
        parameters={
            "members": members,
            "day": day.isoformat(),
            "birthdays_on": f"month {month}, day(s) {days}",
            "page_size": ctx.config.reminders.batch_size,
            "past_years_of_deliveries": sizes.history_years,
            "rule": "the demo birthday rule: mini-program subscribe message, 100 points gift",
        },
        seeded={
            "with_birthday": seed.with_birthday,
            "celebrating": seed.celebrating,
            "past_deliveries_of_the_rule": seed.past_deliveries,
        },
        params={"rule_id": seed.rule_id, "day": day.isoformat()},
        tables=("members", "reminder_deliveries"),
        state=seed,
        notes=["Sending is not measured: delivery is paced at reminders.sends_per_second."],
    )


def _selection(day: date, after: int, limit: int) -> Any:
    """The query handlers/reminders/candidates.py runs for one page of birthdays."""
    month, days = birthdays_on(day)
    return (
        Member.filter(birth_month=month, birth_day__in=days, deleted_at__isnull=True, id__gt=after)
        .select_related("tier")
        .order_by("id")
        .limit(limit)
    )


async def plans(ctx: Context, prepared: Prepared, stage: str) -> list[dict[str, Any]]:
    day = date.fromisoformat(prepared.params["day"])
    limit = ctx.config.reminders.batch_size
    if stage == "before":
        first_page = statement(_selection(day, 0, limit))
        return [await explain(ctx.conn, "birthday selection, first page", *first_page)]
    ids = [m.id for m in await _selection(day, 0, limit)]
    taken = ReminderDelivery.filter(
        rule_id=prepared.params["rule_id"], occasion__in=[f"birthday:{day.year}"], member_id__in=ids
    ).values_list("member_id", "occasion")
    return [await explain(ctx.conn, f"claims already made, {len(ids)} members", *statement(taken))]


async def verify(ctx: Context, prepared: Prepared, job: dict[str, Any]) -> dict[str, Any]:
    seed: BirthdaySeed = prepared.state
    result = job["result"]
    day = date.fromisoformat(prepared.params["day"])
    rows = ReminderDelivery.filter(rule_id=seed.rule_id, occasion=f"birthday:{day.year}")
    claimed = await rows.filter(state="claimed").count()
    return {
        "selected": check(seed.celebrating, result["selected"]),
        "claimed": check(seed.celebrating, result["claimed"]),
        "claimed on a second run": check(0, result["claimed_again"]),
        "delivery rows": check(seed.celebrating, await rows.count()),
        "rows still claimed (nothing sent)": check(seed.celebrating, claimed),
    }


def headline(prepared: Prepared, job: dict[str, Any]) -> dict[str, Any]:
    result = job["result"]
    inner = result["claim_rule_day_inner"]
    return {
        "members": prepared.parameters["members"],
        "celebrating": prepared.seeded["celebrating"],
        "selection_seconds": result["selection_seconds"],
        "claim_rule_day_seconds": result["claim_rule_day_seconds"],
        "of_which_finding_seconds": inner["find_candidates"]["seconds"],
        "of_which_claiming_seconds": inner["claim"]["seconds"],
        "claimed": result["claimed"],
        "second_run_seconds": result["again_seconds"],
    }
