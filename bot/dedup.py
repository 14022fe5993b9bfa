"""Each push is handled once, however often WeChat delivers it.

WeChat re-sends a push it got no answer to within 5 s, three times (about 15 s in all). The first
delivery claims the push's key in Redis (SET NX, `retention.push_dedup_seconds`, 60 s by
default and never under 30) and stores the rendered reply there when done; a delivery that finds
the key claimed waits for that reply (polling, up to its own deadline) and answers the same, or
`success` when it cannot. Redis is shared by every worker process, so a retry landing on
another process is recognised too.

The key is the MsgId of a message. An event has none, and sender and second do not identify it
either: a member who answers two subscribe prompts within a second causes two pushes that differ
only inside their `List`. So an event's key is a digest of the whole push as read (without the
`Encrypt` copy, which is sealed afresh on each delivery): a retry repeats the body, a distinct
event differs somewhere. Two pushes identical in every field are one event.

Redis only accelerates: when it fails the push is answered anyway, without deduplication.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Sequence
from typing import Any

from redis.exceptions import RedisError

from bot.push import SUCCESS, Push, text
from wxmember.core.redis_lane import Command, Lane

log = logging.getLogger(__name__)

_WORKING = b"\x00"
_FIRST_POLL_SECONDS = 0.005
_MAX_POLL_SECONDS = 0.1


def push_key(channel: str, push: Push) -> str:
    """The deduplication key of a push on a channel (`official` or `miniapp`)."""
    msg_id = text(push, "MsgId") or text(push, "MsgID")
    if msg_id:
        return f"wxmember:bot:push:{channel}:m:{msg_id[:64]}"
    content = {name: value for name, value in push.items() if name != "Encrypt"}
    canonical = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    digest = hashlib.sha1(canonical.encode("utf-8", "surrogatepass")).hexdigest()
    return f"wxmember:bot:push:{channel}:e:{digest}"


async def claim(lane: Lane, key: str, seconds: int) -> bool:
    """True for the first delivery of a push (it must answer); False for a repeat.

    The key lives `seconds`, which must outlast WeChat's retries of the push.
    """
    claimed, _ = await claim_and_read(lane, key, seconds)
    return claimed


async def claim_and_read(
    lane: Lane, key: str, seconds: int, reads: Sequence[Command] = ()
) -> tuple[bool, list[Any]]:
    """`claim`, with reads the answer will need sent in the same round trip: their replies,
    or none when Redis fails (the push is then answered without deduplication)."""
    try:
        claimed, *replies = await lane.execute(("SET", key, _WORKING, "EX", seconds, "NX"), *reads)
    except RedisError:
        log.warning("push dedup unavailable; answering without it", exc_info=True)
        return True, []
    return bool(claimed), replies


async def remember(lane: Lane, key: str, reply: str, seconds: int) -> None:
    """Keep the answer for repeats of the push (plain reply XML, or `success`) for `seconds`."""
    try:
        await lane.execute(("SET", key, reply.encode(), "EX", seconds))
    except RedisError:
        log.warning("push dedup unavailable; a repeat will get success", exc_info=True)


async def answer_of_first(lane: Lane, key: str, deadline: float) -> str:
    """The first delivery's answer once it is there; `success` if not before the deadline."""
    loop = asyncio.get_running_loop()
    pause = _FIRST_POLL_SECONDS
    while True:
        try:
            (value,) = await lane.execute(("GET", key))
        except RedisError:
            log.warning("push dedup unavailable while waiting", exc_info=True)
            return SUCCESS
        if value is None:
            return SUCCESS
        if value != _WORKING:
            return value.decode() if isinstance(value, bytes) else str(value)
        left = deadline - loop.time()
        if left <= 0:
            return SUCCESS
        await asyncio.sleep(min(pause, left))
        pause = min(pause * 2, _MAX_POLL_SECONDS)
