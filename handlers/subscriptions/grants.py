"""Subscribe-message grants: count the member's accepts, spend one per message, revoke.

Two channels report the same accept: the mini-program itself, right after
`wx.requestSubscribeMessage` resolves (`POST /api/v1/subscriptions`, source `client`), and
WeChat's message push (`subscribe_msg_popup_event`, source `push`). When both are configured an
accept must count once, so reports from these two sources are paired: an accept reported by one
channel within 10 minutes of an unpaired report of the other for the same member and template is
the same accept. The pairing state lives in Redis (WATCH/MULTI of the two sides' keys, which
share a hash tag so that a Redis Cluster keeps them on one node; concurrent reports pair
correctly); the counts live in the database. Other sources always count, among them the
Official Account's push (`official_push`), whose subscribe messages no client reports.
"""

from __future__ import annotations

from datetime import UTC, datetime

from redis.exceptions import WatchError
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import F

from wxmember.core.context import Services
from wxmember.core.kernel import insert_once
from wxmember.core.models.subscriptions import SubscribeGrant
from wxmember.core.redis import RedisClient, settle

SOURCE_CLIENT = "client"
SOURCE_PUSH = "push"
SOURCE_OFFICIAL_PUSH = "official_push"
_PAIRED = {SOURCE_CLIENT: SOURCE_PUSH, SOURCE_PUSH: SOURCE_CLIENT}
PAIR_WINDOW_SECONDS = 600
# Both sides of one member's accepts of one template share a hash tag, so that the WATCH of the
# two keys stays in one slot on a Redis Cluster.
_UNPAIRED_KEY = "wxmember:grants:unpaired:{{{}:{}}}:{}"


def unpaired_key(member_id: int, template_id: str, source: str) -> str:
    """The count of `source`'s reports of this accept still waiting for the other side's."""
    return _UNPAIRED_KEY.format(member_id, template_id, source)


async def record_grants(
    services: Services, member_id: int, template_ids: list[str], *, source: str
) -> dict[str, int]:
    """Count one grant for each template the member accepted; the remaining count of each."""
    unique = list(dict.fromkeys(template_ids))
    now = services.clock.now()
    for template_id in unique:
        other = _PAIRED.get(source)
        if other and await _paired(services.redis, member_id, template_id, source, other):
            continue
        await _add_one(member_id, template_id, now)
    return await remaining_grants(member_id, unique)


async def remaining_grants(member_id: int, template_ids: list[str]) -> dict[str, int]:
    """How many messages of each template the member still allows (0 when none)."""
    rows = await SubscribeGrant.filter(
        member_id=member_id, template_id__in=template_ids
    ).values_list("template_id", "remaining")
    counts = dict(rows)
    return {template_id: int(counts.get(template_id, 0)) for template_id in template_ids}


async def consume_grant(
    member_id: int, template_id: str, using_db: BaseDBAsyncClient | None = None
) -> bool:
    """Spend one grant before sending a message; False when none is left (send nothing)."""
    spent = (
        await SubscribeGrant.filter(member_id=member_id, template_id=template_id, remaining__gt=0)
        .using_db(using_db)
        .update(remaining=F("remaining") - 1, updated_at=datetime.now(UTC))
    )
    return spent == 1


async def revoke(
    member_id: int, template_id: str, using_db: BaseDBAsyncClient | None = None
) -> None:
    """The member refused the template (or WeChat said no grant is left): none remain."""
    await (
        SubscribeGrant.filter(member_id=member_id, template_id=template_id, remaining__gt=0)
        .using_db(using_db)
        .update(remaining=0, updated_at=datetime.now(UTC))
    )


async def forget_member(member_id: int, using_db: BaseDBAsyncClient | None = None) -> None:
    """On account deletion: the member's grants go with their account."""
    await SubscribeGrant.filter(member_id=member_id).using_db(using_db).delete()


async def _add_one(member_id: int, template_id: str, now: datetime) -> None:
    query = SubscribeGrant.filter(member_id=member_id, template_id=template_id)
    if await query.update(remaining=F("remaining") + 1, updated_at=now):
        return
    first = {"member_id": member_id, "template_id": template_id, "remaining": 1}
    if await insert_once(SubscribeGrant, None, **first) is None:
        await query.update(remaining=F("remaining") + 1, updated_at=now)  # created concurrently


async def _paired(
    redis: RedisClient, member_id: int, template_id: str, source: str, other: str
) -> bool:
    """True when `other` reported this accept already; else leave this report unpaired."""
    mine = unpaired_key(member_id, template_id, source)
    theirs = unpaired_key(member_id, template_id, other)
    async with redis.pipeline(transaction=True) as pipe:
        while True:
            try:
                await settle(redis)
                await pipe.watch(mine, theirs)
                await settle(redis)
                waiting = int(await pipe.get(theirs) or 0)
                pipe.multi()
                await settle(redis)
                if waiting > 0:
                    pipe.decr(theirs)
                else:
                    pipe.incr(mine)
                    pipe.expire(mine, PAIR_WINDOW_SECONDS)
                await pipe.execute()
                return waiting > 0
            except WatchError:
                continue
