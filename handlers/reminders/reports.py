"""What operators see of reminder deliveries: the list, counts per rule and state for a day,
and counts per day and state over a range of days."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

from tortoise.functions import Count

from wxmember.core.context import Services
from wxmember.core.db import reports
from wxmember.core.errors import ValidationFailed
from wxmember.core.kernel import continue_after
from wxmember.core.localtime import local_today
from wxmember.core.models.reminders import Channel, DeliveryState, ReminderDelivery, ReminderRule


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def delivery_view(row: ReminderDelivery) -> dict[str, Any]:
    """A delivery as operators see it."""
    return {
        "id": row.id,
        "rule_id": row.rule_id,
        "member_id": row.member_id,
        "occasion": row.occasion,
        "day": row.day.isoformat(),
        "channel": Channel(row.channel).value,
        "template_id": row.template_id,
        "page": row.page,
        "data": row.payload,
        "state": DeliveryState(row.state).value,
        "reason": row.reason,
        "errcode": row.errcode,
        "attempts": row.attempts,
        "next_attempt_at": _iso(row.next_attempt_at),
        "gift_state": row.gift_state,
        "gift_ref": row.gift_ref,
        "msgid": row.msgid,
        "created_at": _iso(row.created_at),
        "updated_at": _iso(row.updated_at),
        "finished_at": _iso(row.finished_at),
    }


async def list_deliveries(
    *,
    rule_id: int | None,
    state: DeliveryState | None,
    day: date | None,
    before_id: int | None,
    limit: int,
) -> list[ReminderDelivery]:
    """Newest first, filtered, `limit + 1` rows (the caller pages)."""
    query = ReminderDelivery.all().order_by("-id")
    if rule_id is not None:
        query = query.filter(rule_id=rule_id)
    if state is not None:
        query = query.filter(state=state)
    if day is not None:
        query = query.filter(day=day)
    query = continue_after(query, before_id)
    return await query.limit(limit + 1)


MAX_SERIES_DAYS = 92


async def daily_counts(first: date, last: date, rule_id: int | None = None) -> list[dict[str, Any]]:
    """Per send day from `first` to `last` (at most 92 days): deliveries in each state.

    One grouped query on the (day, rule, state) index; days without deliveries count zero.
    """
    if last < first or (last - first).days >= MAX_SERIES_DAYS:
        raise ValidationFailed(
            f"A range of 1..{MAX_SERIES_DAYS} days, the first not after the last.",
            code="invalid_range",
        )
    query = ReminderDelivery.filter(day__gte=first, day__lte=last)
    if rule_id is not None:
        query = query.filter(rule_id=rule_id)
    rows = await query.annotate(n=Count("id")).group_by("day", "state").values("day", "state", "n")
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    counts = {day: {state.value: 0 for state in DeliveryState} for day in days}
    for row in rows:
        day = row["day"] if isinstance(row["day"], date) else date.fromisoformat(str(row["day"]))
        counts[day][DeliveryState(row["state"]).value] = int(row["n"])
    return [
        {"day": day.isoformat(), "counts": counts[day], "total": sum(counts[day].values())}
        for day in days
    ]


async def delivery_stats(day: date) -> list[dict[str, Any]]:
    """For a send day: per rule, how many deliveries are in each state."""
    rows = await (
        ReminderDelivery.filter(day=day)
        .annotate(n=Count("id"))
        .group_by("rule_id", "state")
        .values("rule_id", "state", "n")
    )
    counts: dict[int, dict[str, int]] = defaultdict(lambda: {s.value: 0 for s in DeliveryState})
    for row in rows:
        counts[row["rule_id"]][DeliveryState(row["state"]).value] = int(row["n"])
    names = dict(await ReminderRule.filter(id__in=list(counts)).values_list("id", "name"))
    return [
        {
            "rule_id": rule_id,
            "rule_name": names.get(rule_id, ""),
            "counts": counts[rule_id],
            "total": sum(counts[rule_id].values()),
        }
        for rule_id in sorted(counts)
    ]


async def stats_for_day(services: Services, day: date | None) -> dict[str, Any]:
    """`delivery_stats` for a send day, the brand's today unless given; read from the replica
    when there is one."""
    day = day or local_today(services)
    with reports():
        return {"date": day.isoformat(), "rules": await delivery_stats(day)}
