"""Delivering reminders: claim every occasion first, then send each claimed one at most once.

Claim: one `reminder_deliveries` row per (rule, member, occasion), inserted with ON CONFLICT DO
NOTHING before anything is sent; the rendered message is fixed in the row.

Send, per claimed row: skip (rule disabled, member deleted, no openid, unfollowed) or hand out
the birthday gift first; then the message goes at most once (handlers/messaging/).
"""

from __future__ import annotations

from datetime import date

from handlers.messaging import recipient, send_message, skip
from handlers.messaging.pacing import SendPacer
from handlers.reminders.candidates import Candidate, render
from handlers.reminders.gifts import give_birthday_gift
from wxmember.core.context import Services
from wxmember.core.models import Member
from wxmember.core.models.reminders import (
    Channel,
    ReminderDelivery,
    ReminderKind,
    ReminderRule,
)


async def claim(
    services: Services, rule: ReminderRule, day: date, found: list[Candidate], gift: str | None
) -> int:
    """Insert a claimed row for each candidate not yet claimed; how many rows were new."""
    if not found:
        return 0
    now = services.clock.now()
    occasions = {c.occasion for c in found}
    taken = set(
        await ReminderDelivery.filter(
            rule_id=rule.id, occasion__in=occasions, member_id__in=[c.member.id for c in found]
        ).values_list("member_id", "occasion")
    )
    rows = [
        ReminderDelivery(
            rule_id=rule.id,
            member_id=c.member.id,
            occasion=c.occasion,
            day=day,
            channel=rule.channel,
            template_id=rule.template_id,
            page=rule.page,
            payload=render(services, rule, day, c, gift),
            next_attempt_at=now,
            created_at=now,
            updated_at=now,
        )
        for c in found
        if (c.member.id, c.occasion) not in taken
    ]
    if rows:
        # A concurrent claimer may insert the same keys first: the database keeps one row.
        await ReminderDelivery.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


async def deliver(services: Services, row: ReminderDelivery, pacer: SendPacer) -> str:
    """Take one claimed row through to its outcome; the state it ends in ("lost" if taken)."""
    now = services.clock.now()
    rule = await ReminderRule.get(id=row.rule_id)
    if not rule.enabled or rule.deleted_at is not None:
        return await skip(row, now, "rule_disabled")
    member = await Member.get_or_none(id=row.member_id)
    if member is None or member.deleted_at is not None:
        return await skip(row, now, "member_deleted")
    has_gift = rule.gift_points or rule.gift_coupon_template_id
    if rule.kind == ReminderKind.BIRTHDAY and has_gift and row.gift_state is None:
        await give_birthday_gift(services, rule, row)
    openid, why_not = await recipient(Channel(row.channel), member)
    if openid is None:
        return await skip(row, now, why_not or "no_openid")
    return await send_message(services, row, openid, pacer, "reminder")
