"""Sending one template message at most once, for reminders and campaigns alike.

A delivery row (`ReminderDelivery` or `CampaignDelivery`: the same state and message fields)
is claimed before anything is sent. One transaction moves it claimed -> sending by a
conditional update (the one worker that wins sends) and, for a mini-program subscribe message,
spends one of the member's recorded grants (none left: skipped `no_grant`, WeChat is not
called). Then the paced WeChat call, and the outcome: sent, failed with the errcode, or back to
claimed with a later `next_attempt_at` for a transient error (busy, rate limit, no connection),
at most `reminders.max_attempts` times.

At most once. When a send's outcome is unknown (the request left but no answer came, or the
worker died between claiming and marking, found as a row left `sending` past
`reminders.sending_timeout_seconds`), a subscribe message is never resent: the row becomes
failed `unknown_outcome`. A repeat could reach the member twice if they granted twice, and a
missed message is cheaper than a duplicate. An Official Account template message carries
`client_msg_id` (the row's kind and id), which WeChat deduplicates for 10 minutes, so it is
resent while that window lasts and settled as `unknown_outcome` after.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from handlers.messaging.pacing import SendPacer
from handlers.messaging.templates import invalid_keys
from handlers.subscriptions.grants import consume_grant, revoke
from wxmember.core.context import Services
from wxmember.core.kernel import transaction
from wxmember.core.models import Member
from wxmember.core.models.bot import Follower
from wxmember.core.models.campaigns import CampaignDelivery
from wxmember.core.models.reminders import FINAL_STATES, Channel, DeliveryState, ReminderDelivery
from wxmember.core.wechat import WeChatError
from wxmember.core.wechat.errors import (
    WeChatBusy,
    WeChatNetworkError,
    WeChatRateLimited,
    WeChatRecipientUnavailable,
    WeChatSubscribeRefused,
)

log = logging.getLogger(__name__)

Delivery = ReminderDelivery | CampaignDelivery

DEDUP_WINDOW = timedelta(minutes=10)
DEDUP_MARGIN = timedelta(minutes=1)
_MSG_ID_PREFIX = {ReminderDelivery: "rd", CampaignDelivery: "cd"}


async def settle(
    row: Delivery,
    expected: DeliveryState,
    state: DeliveryState,
    now: datetime,
    **values: Any,
) -> bool:
    """Move the row from `expected` to `state` if nobody else moved it; True when it did."""
    done = {"finished_at": now} if state in FINAL_STATES else {}
    changed = (
        await type(row)
        .filter(id=row.id, state=expected, attempts=row.attempts)
        .update(state=state, updated_at=now, **done, **values)
    )
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


async def _start_sending(row: Delivery, now: datetime) -> str:
    """claimed -> sending, spending a subscribe grant in the same transaction."""
    async with transaction() as conn:
        taken = (
            await type(row)
            .filter(id=row.id, state=DeliveryState.CLAIMED, attempts=row.attempts)
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
            if not await consume_grant(member_id, _template(row), using_db=conn):
                await (
                    type(row)
                    .filter(id=row.id)
                    .using_db(conn)
                    .update(
                        state=DeliveryState.SKIPPED,
                        reason="no_grant",
                        finished_at=now,
                        updated_at=now,
                    )
                )
                return "no_grant"
            await type(row).filter(id=row.id).using_db(conn).update(grant_spent=True)
            row.grant_spent = True
    return "sending"


def _template(row: Delivery) -> str:
    if row.template_id is None:  # a campaign without a message never gets here
        raise ValueError(f"delivery {row.id} has no template")
    return row.template_id


async def _send(services: Services, row: Delivery, openid: str) -> dict[str, Any]:
    if row.channel == Channel.MINIAPP_SUBSCRIBE:
        return await services.miniapp.send_subscribe_message(
            openid, _template(row), row.payload, page=row.page
        )
    miniprogram = None
    if row.page:
        miniprogram = {"appid": services.config.miniapp.appid, "pagepath": row.page}
    msg_id = f"{_MSG_ID_PREFIX[type(row)]}{row.id}"
    return await services.official.send_template_message(
        openid, _template(row), row.payload, miniprogram=miniprogram, client_msg_id=msg_id
    )


def _never_left(exc: WeChatError) -> bool:
    """WeChat answered "not now" or the connection never opened: the message was not sent."""
    if isinstance(exc, WeChatBusy | WeChatRateLimited):
        return True
    return isinstance(exc, WeChatNetworkError) and exc.errmsg.startswith("cannot connect")


def can_resend(row: Delivery, at: datetime) -> bool:
    """A template message may go again while WeChat still deduplicates its client_msg_id."""
    return (
        row.channel == Channel.OFFICIAL_TEMPLATE
        and row.first_sent_at is not None
        and at < row.first_sent_at + DEDUP_WINDOW - DEDUP_MARGIN
    )


def _backoff(services: Services, attempts: int) -> timedelta:
    base = services.config.reminders.retry_base_seconds
    return timedelta(seconds=min(base * 2 ** max(0, attempts - 1), 6 * 3600))


async def _after_error(services: Services, row: Delivery, exc: WeChatError) -> str:
    now = services.clock.now()
    member_id: int = row.member_id
    sending = DeliveryState.SENDING
    if isinstance(exc, WeChatSubscribeRefused):
        # WeChat has no grant left (the member refused, or our count was off): ours is 0 too.
        await revoke(member_id, _template(row))
        await settle(
            row,
            sending,
            DeliveryState.FAILED,
            now,
            errcode=exc.errcode,
            reason="no_grant_at_wechat",
        )
        return DeliveryState.FAILED
    if isinstance(exc, WeChatRecipientUnavailable):
        await settle(
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
            await settle(
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
        await settle(row, sending, DeliveryState.FAILED, now, errcode=exc.errcode, reason=reason)
        return DeliveryState.FAILED
    reason = "unknown_outcome" if isinstance(exc, WeChatNetworkError) else "rejected"
    await settle(row, sending, DeliveryState.FAILED, now, errcode=exc.errcode, reason=reason)
    return DeliveryState.FAILED


async def recover_stale(services: Services, model: type[Delivery]) -> int:
    """Settle rows left `sending` by a worker that died mid-send; how many were settled."""
    now = services.clock.now()
    cutoff = now - timedelta(seconds=services.config.reminders.sending_timeout_seconds)
    stale = await model.filter(state=DeliveryState.SENDING, sending_at__lt=cutoff).limit(
        services.config.reminders.batch_size
    )
    for row in stale:
        if can_resend(row, now) and row.attempts < services.config.reminders.max_attempts:
            # Same client_msg_id: if the first one arrived, WeChat drops this one.
            await settle(
                row,
                DeliveryState.SENDING,
                DeliveryState.CLAIMED,
                now,
                reason="resend_after_crash",
                next_attempt_at=now,
                sending_at=None,
            )
        else:
            await settle(
                row, DeliveryState.SENDING, DeliveryState.FAILED, now, reason="unknown_outcome"
            )
    return len(stale)


async def send_message(
    services: Services, row: Delivery, openid: str, pacer: SendPacer, what: str
) -> str:
    """Take a claimed row whose message is rendered to its outcome; the state it ends in
    ("lost" if another worker took it). `what` names the message in the log."""
    now = services.clock.now()
    assert row.channel is not None
    bad = invalid_keys(row.payload, Channel(row.channel))
    if bad:
        reason = f"invalid_value:{bad[0]}"[:48]
        if await settle(row, DeliveryState.CLAIMED, DeliveryState.FAILED, now, reason=reason):
            return DeliveryState.FAILED
        return "lost"
    started = await _start_sending(row, now)
    if started == "lost":
        return "lost"
    if started == "no_grant":
        return DeliveryState.SKIPPED
    await pacer.wait()
    try:
        answer = await _send(services, row, openid)
    except WeChatError as exc:
        log.info(f"{what} not sent", extra={"delivery": row.id, "errcode": exc.errcode})
        return await _after_error(services, row, exc)
    msgid = answer.get("msgid")
    await settle(
        row,
        DeliveryState.SENDING,
        DeliveryState.SENT,
        services.clock.now(),
        msgid=str(msgid) if msgid is not None else None,
        reason=None,
        errcode=None,
    )
    return DeliveryState.SENT


async def skip(row: Delivery, now: datetime, reason: str) -> str:
    """Settle a claimed row as skipped for `reason`; "lost" if another worker took it."""
    if await settle(row, DeliveryState.CLAIMED, DeliveryState.SKIPPED, now, reason=reason):
        return DeliveryState.SKIPPED
    return "lost"


async def forget_member(member_id: int, using_db: BaseDBAsyncClient | None = None) -> None:
    """On account deletion: the member's reminders and campaign messages lose their rendered
    content (names).

    The rows stay, without personal data, for the delivery counts and campaign results; one
    still waiting to be sent is settled as skipped `member_deleted`.
    """
    now = datetime.now(UTC)
    for model in (ReminderDelivery, CampaignDelivery):
        rows = model.filter(member_id=member_id)
        await rows.using_db(using_db).update(payload={})
        await (
            rows.filter(state=DeliveryState.CLAIMED)
            .using_db(using_db)
            .update(state=DeliveryState.SKIPPED, reason="member_deleted", finished_at=now)
        )
