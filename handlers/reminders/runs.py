"""Reminders: run the rules whose send time has come, run one rule for a day, preview a rule.

The scheduler calls `run_due_reminders` every minute. It reads the enabled rules from the
database on every run (a change takes effect without a restart); each rule whose send time of
day has come (brand local time) has its occasions for today claimed once per day and rule
version (a Redis marker saves the re-scan; losing it only costs a scan that claims nothing new,
the unique delivery key decides). Then rows left `sending` by a dead worker are settled and
every claimed row that is due, new or a retry, is delivered (handlers/reminders/delivery.py).

A rule's send time is the earliest moment of the day its reminders go out: a process that
starts later in the day still sends today's. Days the scheduler did not run at all are not
caught up: a birthday greeting a day late is worse than none.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from redis.exceptions import RedisError

from handlers.messaging import recipient, recover_stale
from handlers.messaging.pacing import SendPacer
from handlers.reminders.candidates import find_candidates, gift_name, render, target_day
from handlers.reminders.delivery import claim, deliver
from handlers.reminders.fields import invalid_keys
from handlers.reminders.horizon import check_runnable
from handlers.reminders.rules import get_rule
from wxmember.core.context import Services
from wxmember.core.inputs import encode_cursor
from wxmember.core.localtime import local_today
from wxmember.core.models.reminders import Channel, DeliveryState, ReminderDelivery, ReminderRule
from wxmember.core.models.subscriptions import SubscribeGrant

log = logging.getLogger(__name__)

ShouldStop = Callable[[], Awaitable[bool]]
MARKER_KEY = "wxmember:reminders:claimed:{}:{}:{}"
MARKER_SECONDS = 2 * 86400


@dataclass
class RunSummary:
    """What one run did: rows claimed, stale rows settled, outcomes of the deliveries."""

    claimed: int = 0
    recovered: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)


def pacer_for(services: Services) -> SendPacer:
    """The send pacer at the configured rate (shared with every process through Redis)."""
    return SendPacer(services.redis, services.config.reminders.sends_per_second)


async def claim_rule_day(services: Services, rule: ReminderRule, day: date) -> int:
    """Claim every occasion of `rule` for the local send day `day`; how many were new."""
    gift = await gift_name(rule)
    batch = services.config.reminders.batch_size
    claimed, cursor = 0, 0
    while True:
        found, next_cursor = await find_candidates(services, rule, day, cursor, batch)
        claimed += await claim(services, rule, day, found, gift)
        if next_cursor is None:
            return claimed
        cursor = next_cursor


async def deliver_due(
    services: Services,
    *,
    rule_id: int | None = None,
    should_stop: ShouldStop | None = None,
    pacer: SendPacer | None = None,
) -> Counter[str]:
    """Deliver every claimed row that is due (optionally of one rule); outcome counts."""
    pacer = pacer or pacer_for(services)
    outcomes: Counter[str] = Counter()
    batch = services.config.reminders.batch_size
    after = 0
    while True:
        query = ReminderDelivery.filter(
            state=DeliveryState.CLAIMED, next_attempt_at__lte=services.clock.now(), id__gt=after
        )
        if rule_id is not None:
            query = query.filter(rule_id=rule_id)
        rows = await query.order_by("id").limit(batch)
        for row in rows:
            if should_stop is not None and await should_stop():
                return outcomes
            outcomes[await deliver(services, row, pacer)] += 1
        if len(rows) < batch:
            return outcomes
        after = rows[-1].id


async def _claimed_already(services: Services, key: str) -> bool:
    try:
        return bool(await services.redis.exists(key))
    except (RedisError, OSError):
        return False


async def _remember_claimed(services: Services, key: str) -> None:
    try:
        await services.redis.set(key, b"1", ex=MARKER_SECONDS)
    except (RedisError, OSError) as exc:
        log.warning("could not keep the claimed marker", extra={"error": repr(exc)})


async def run_due_reminders(
    services: Services, *, should_stop: ShouldStop | None = None, pacer: SendPacer | None = None
) -> RunSummary:
    """The scheduler's minute: claim today's occasions of due rules, then deliver."""
    local = services.clock.now().astimezone(services.config.brand.tz)
    day, time_of_day = local.date(), f"{local:%H:%M}"
    summary = RunSummary()
    rules = await ReminderRule.filter(
        enabled=True, deleted_at__isnull=True, send_time__lte=time_of_day
    ).order_by("id")
    for rule in rules:
        if should_stop is not None and await should_stop():
            return summary
        marker = MARKER_KEY.format(rule.id, rule.version, day.isoformat())
        if await _claimed_already(services, marker):
            continue
        summary.claimed += await claim_rule_day(services, rule, day)
        await _remember_claimed(services, marker)
    summary.recovered = await recover_stale(services, ReminderDelivery)
    summary.outcomes = await deliver_due(services, should_stop=should_stop, pacer=pacer)
    return summary


async def outcome_counts(rule_id: int, day: date) -> dict[str, int]:
    """How the deliveries of a rule for a send day stand, per state."""
    rows = await ReminderDelivery.filter(rule_id=rule_id, day=day).values_list("state", flat=True)
    counts = Counter(DeliveryState(str(state)).value for state in rows)
    return {state.value: counts.get(state.value, 0) for state in DeliveryState}


async def run_rule(services: Services, rule_id: int, day: date) -> dict[str, int]:
    """Run one rule for a send day now, whatever its send time; the outcome counts.

    A day before the retention horizon is refused (handlers/reminders/horizon.py).
    """
    rule = await get_rule(rule_id)
    check_runnable(services, day)
    await claim_rule_day(services, rule, day)
    await recover_stale(services, ReminderDelivery)
    await deliver_due(services, rule_id=rule.id)
    return await outcome_counts(rule.id, day)


async def preview(
    services: Services, rule_id: int, day: date, after: int | None, limit: int
) -> tuple[list[dict[str, Any]], int | None]:
    """Who the rule would remind on `day` and the message each would get; sends nothing."""
    rule = await get_rule(rule_id)
    gift = await gift_name(rule)
    found, next_cursor = await find_candidates(services, rule, day, after or 0, limit)
    member_ids = [c.member.id for c in found]
    existing = {
        (member_id, occasion): state
        for member_id, occasion, state in await ReminderDelivery.filter(
            rule_id=rule.id, member_id__in=member_ids
        ).values_list("member_id", "occasion", "state")
    }
    grants: dict[int, int] = {}
    if rule.channel == Channel.MINIAPP_SUBSCRIBE:
        grants = dict(
            await SubscribeGrant.filter(
                member_id__in=member_ids, template_id=rule.template_id
            ).values_list("member_id", "remaining")
        )
    items = []
    for candidate in found:
        data = render(services, rule, day, candidate, gift)
        member = candidate.member
        status = "will_send"
        delivered = existing.get((member.id, candidate.occasion))
        if delivered is not None:
            status = f"already_{DeliveryState(delivered).value}"
        elif invalid_keys(data, Channel(rule.channel)):
            status = "invalid_value"
        else:
            _, why_not = await recipient(Channel(rule.channel), member)
            if why_not is not None:
                status = why_not
            elif rule.channel == Channel.MINIAPP_SUBSCRIBE and grants.get(member.id, 0) <= 0:
                status = "no_grant"
        items.append(
            {
                "cursor": candidate.cursor,
                "member_id": member.id,
                "occasion": candidate.occasion,
                "target_day": target_day(rule, day).isoformat(),
                "channel": Channel(rule.channel).value,
                "template_id": rule.template_id,
                "page": rule.page,
                "data": data,
                "gift": gift,
                "status": status,
            }
        )
    return items, next_cursor


async def preview_page(
    services: Services, rule_id: int, day: date | None, after: int | None, limit: int
) -> dict[str, Any]:
    """`preview` for operators: the send day (the brand's today unless given), a page of whom
    the rule would remind, and the cursor of the next page."""
    day = day or local_today(services)
    items, next_key = await preview(services, rule_id, day, after, limit)
    return {
        "date": day.isoformat(),
        "items": items,
        "next_cursor": encode_cursor(next_key) if next_key is not None else None,
    }
