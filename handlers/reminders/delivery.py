"""Delivering reminders: claim every occasion first, then send each claimed one at most once.

Claim: one `reminder_deliveries` row per (rule, member, occasion), inserted with ON CONFLICT DO
NOTHING before anything is sent; the rendered message is fixed in the row.

Send, per claimed row: skip (member deleted, no openid, unfollowed) or hand out the birthday
gift first; then one transaction moves the row claimed -> sending by a conditional update (the
one worker that wins sends) and, for a mini-program subscribe message, spends one of the
member's recorded grants (none left: skipped `no_grant`, WeChat is not called). Then the paced
WeChat call, and the outcome: sent, failed with the errcode, or back to claimed with a later
`next_attempt_at` for a transient error (busy, rate limit, no connection), at most
`reminders.max_attempts` times.

At most once. When a send's outcome is unknown (the request left but no answer came, or the
worker died between claiming and marking, found as a row left `sending` past
`reminders.sending_timeout_seconds`), a subscribe message is never resent: the row becomes
failed `unknown_outcome`. A repeat could reach the member twice if they granted twice, and a
missed reminder is cheaper than a duplicate. An Official Account template message carries
`client_msg_id` (the delivery id), which WeChat deduplicates for 10 minutes, so it is resent
while that window lasts and settled as `unknown_outcome` after.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from handlers.reminders.candidates import Candidate, render
from handlers.reminders.fields import invalid_keys
from handlers.reminders.gifts import give_birthday_gift
from handlers.reminders.pacing import SendPacer
from handlers.subscriptions.grants import consume_grant, revoke
from wxmember.core.context import Services
from wxmember.core.kernel import transaction
from wxmember.core.models import Member
from wxmember.core.models.bot import Follower
from wxmember.core.models.reminders import (
    FINAL_STATES,
    Channel,
    DeliveryState,
    ReminderDelivery,
    ReminderKind,
    ReminderRule,
)
from wxmember.core.wechat import WeChatError
from wxmember.core.wechat.errors import (
    WeChatBusy,
    WeChatNetworkError,
    WeChatRateLimited,
    WeChatRecipientUnavailable,
    WeChatSubscribeRefused,
)

log = logging.getLogger(__name__)

DEDUP_WINDOW = timedelta(minutes=10)
DEDUP_MARGIN = timedelta(minutes=1)


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


async def _settle(
    row: ReminderDelivery,
    expected: DeliveryState,
    state: DeliveryState,
    now: datetime,
    **values: Any,
) -> bool:
    """Move the row from `expected` to `state` if nobody else moved it; True when it did."""
    done = {"finished_at": now} if state in FINAL_STATES else {}
    changed = await ReminderDelivery.filter(
        id=row.id, state=expected, attempts=row.attempts
    ).update(state=state, updated_at=now, **done, **values)
    return changed == 1


async def recipient(channel: Channel, member: Member) -> tuple[str | None, str | None]:
    """The openid to send to, or the reason why there is none."""
    if channel is Channel.MINIAPP_SUBSCRIBE:
        return (member.openid, None) if member.openid else (None, "no_openid")
    openid = member.official_openid
    follower = None
    if openid:
        follower = await Follower.get_or_none(openid=openid)
    else:
        follower = await Follower.filter(member_id=member.id).order_by("-subscribed", "-id").first()
        openid = follower.openid if follower is not None else None
    if not openid:
        return None, "no_openid"
    if follower is not None and not follower.subscribed:
        return None, "unsubscribed"
    return openid, None


async def _start_sending(services: Services, row: ReminderDelivery, now: datetime) -> str:
    """claimed -> sending, spending a subscribe grant in the same transaction."""
    async with transaction() as conn:
        taken = (
            await ReminderDelivery.filter(
                id=row.id, state=DeliveryState.CLAIMED, attempts=row.attempts
            )
            .using_db(conn)
            .update(
                state=DeliveryState.SENDING,
                attempts=row.attempts + 1,
                sending_at=now,
                first_sent_at=row.first_sent_at or now,
                updated_at=now,
            )
        )
        if taken != 1:
            return "lost"
        row.attempts += 1
        row.first_sent_at = row.first_sent_at or now
        if row.channel == Channel.MINIAPP_SUBSCRIBE and not row.grant_spent:
            member_id: int = row.member_id
            if not await consume_grant(member_id, row.template_id, using_db=conn):
                await (
                    ReminderDelivery.filter(id=row.id)
                    .using_db(conn)
                    .update(
                        state=DeliveryState.SKIPPED,
                        reason="no_grant",
                        finished_at=now,
                        updated_at=now,
                    )
                )
                return "no_grant"
            await ReminderDelivery.filter(id=row.id).using_db(conn).update(grant_spent=True)
            row.grant_spent = True
    return "sending"


async def _send(services: Services, row: ReminderDelivery, openid: str) -> dict[str, Any]:
    if row.channel == Channel.MINIAPP_SUBSCRIBE:
        return await services.miniapp.send_subscribe_message(
            openid, row.template_id, row.payload, page=row.page
        )
    miniprogram = None
    if row.page:
        miniprogram = {"appid": services.config.miniapp.appid, "pagepath": row.page}
    return await services.official.send_template_message(
        openid, row.template_id, row.payload, miniprogram=miniprogram, client_msg_id=f"rd{row.id}"
    )


def _never_left(exc: WeChatError) -> bool:
    """WeChat answered "not now" or the connection never opened: the message was not sent."""
    if isinstance(exc, WeChatBusy | WeChatRateLimited):
        return True
    return isinstance(exc, WeChatNetworkError) and exc.errmsg.startswith("cannot connect")


def can_resend(row: ReminderDelivery, at: datetime) -> bool:
    """A template message may go again while WeChat still deduplicates its client_msg_id."""
    return (
        row.channel == Channel.OFFICIAL_TEMPLATE
        and row.first_sent_at is not None
        and at < row.first_sent_at + DEDUP_WINDOW - DEDUP_MARGIN
    )


def _backoff(services: Services, attempts: int) -> timedelta:
    base = services.config.reminders.retry_base_seconds
    return timedelta(seconds=min(base * 2 ** max(0, attempts - 1), 6 * 3600))


async def _after_error(services: Services, row: ReminderDelivery, exc: WeChatError) -> str:
    now = services.clock.now()
    member_id: int = row.member_id
    sending = DeliveryState.SENDING
    if isinstance(exc, WeChatSubscribeRefused):
        # WeChat has no grant left (the member refused, or our count was off): ours is 0 too.
        await revoke(member_id, row.template_id)
        await _settle(
            row,
            sending,
            DeliveryState.FAILED,
            now,
            errcode=exc.errcode,
            reason="no_grant_at_wechat",
        )
        return DeliveryState.FAILED
    if isinstance(exc, WeChatRecipientUnavailable):
        await _settle(
            row,
            sending,
            DeliveryState.FAILED,
            now,
            errcode=exc.errcode,
            reason="recipient_unavailable",
        )
        return DeliveryState.FAILED
    never_left = _never_left(exc)
    if never_left or (exc.transient and can_resend(row, now)):
        retry_at = now + _backoff(services, row.attempts)
        in_window = never_left or can_resend(row, retry_at)
        if row.attempts < services.config.reminders.max_attempts and in_window:
            await _settle(
                row,
                sending,
                DeliveryState.CLAIMED,
                now,
                errcode=exc.errcode,
                reason="retrying",
                next_attempt_at=retry_at,
                sending_at=None,
            )
            return DeliveryState.CLAIMED
        reason = "retries_exhausted" if never_left else "unknown_outcome"
        await _settle(row, sending, DeliveryState.FAILED, now, errcode=exc.errcode, reason=reason)
        return DeliveryState.FAILED
    reason = "unknown_outcome" if isinstance(exc, WeChatNetworkError) else "rejected"
    await _settle(row, sending, DeliveryState.FAILED, now, errcode=exc.errcode, reason=reason)
    return DeliveryState.FAILED


async def deliver(services: Services, row: ReminderDelivery, pacer: SendPacer) -> str:
    """Take one claimed row through to its outcome; the state it ends in ("lost" if taken)."""
    now = services.clock.now()
    claimed = DeliveryState.CLAIMED
    rule = await ReminderRule.get(id=row.rule_id)
    if not rule.enabled or rule.deleted_at is not None:
        return await _skip(row, now, "rule_disabled")
    member = await Member.get_or_none(id=row.member_id)
    if member is None or member.deleted_at is not None:
        return await _skip(row, now, "member_deleted")
    has_gift = rule.gift_points or rule.gift_coupon_template_id
    if rule.kind == ReminderKind.BIRTHDAY and has_gift and row.gift_state is None:
        await give_birthday_gift(services, rule, row)
    openid, why_not = await recipient(Channel(row.channel), member)
    if openid is None:
        return await _skip(row, now, why_not or "no_openid")
    bad = invalid_keys(row.payload, Channel(row.channel))
    if bad:
        if await _settle(
            row, claimed, DeliveryState.FAILED, now, reason=f"invalid_value:{bad[0]}"[:48]
        ):
            return DeliveryState.FAILED
        return "lost"
    started = await _start_sending(services, row, now)
    if started == "lost":
        return "lost"
    if started == "no_grant":
        return DeliveryState.SKIPPED
    await pacer.wait()
    try:
        answer = await _send(services, row, openid)
    except WeChatError as exc:
        log.info("reminder not sent", extra={"delivery": row.id, "errcode": exc.errcode})
        return await _after_error(services, row, exc)
    msgid = answer.get("msgid")
    await _settle(
        row,
        DeliveryState.SENDING,
        DeliveryState.SENT,
        services.clock.now(),
        msgid=str(msgid) if msgid is not None else None,
        reason=None,
        errcode=None,
    )
    return DeliveryState.SENT


async def _skip(row: ReminderDelivery, now: datetime, reason: str) -> str:
    if await _settle(row, DeliveryState.CLAIMED, DeliveryState.SKIPPED, now, reason=reason):
        return DeliveryState.SKIPPED
    return "lost"


async def recover_stale(services: Services) -> int:
    """Settle rows left `sending` by a worker that died mid-send; how many were settled."""
    now = services.clock.now()
    cutoff = now - timedelta(seconds=services.config.reminders.sending_timeout_seconds)
    stale = await ReminderDelivery.filter(state=DeliveryState.SENDING, sending_at__lt=cutoff).limit(
        services.config.reminders.batch_size
    )
    for row in stale:
        if can_resend(row, now) and row.attempts < services.config.reminders.max_attempts:
            # Same client_msg_id: if the first one arrived, WeChat drops this one.
            await _settle(
                row,
                DeliveryState.SENDING,
                DeliveryState.CLAIMED,
                now,
                reason="resend_after_crash",
                next_attempt_at=now,
                sending_at=None,
            )
        else:
            await _settle(
                row, DeliveryState.SENDING, DeliveryState.FAILED, now, reason="unknown_outcome"
            )
    return len(stale)


async def forget_member(member_id: int, using_db: BaseDBAsyncClient | None = None) -> None:
    """On account deletion: the member's reminders lose their rendered content (names).

    The rows stay, without personal data, for the delivery counts; a reminder still waiting
    to be sent is settled as skipped.
    """
    await ReminderDelivery.filter(member_id=member_id).using_db(using_db).update(payload={})
    await (
        ReminderDelivery.filter(member_id=member_id, state=DeliveryState.CLAIMED)
        .using_db(using_db)
        .update(state=DeliveryState.SKIPPED, reason="member_deleted", finished_at=datetime.now(UTC))
    )
