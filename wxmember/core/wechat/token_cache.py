"""The access token shared by every worker process, cached in Redis.

Key ``wxmember:wechat:token:{appid}`` holds the token with a TTL a little below its lifetime.
The same cache keeps the other credentials WeChat hands out for two hours and limits per day,
under a key of their own: the card API ticket (``wx_card``) is
``wxmember:wechat:ticket:wx_card:{appid}``. Refreshing is single-flight twice over:

- inside a process, every coroutine that finds the cache empty (or holds a rejected token)
  awaits one shared refresh task, and so shares its outcome, success or error: fifty callers
  on a cold cache, or with a bad secret, cause one token request, not fifty;
- across processes, the refresher first takes ``...:lock`` with ``SET NX PX`` and a random
  owner value; the others poll the cache until the holder writes the token, for a bounded
  time, and take the lock themselves if the holder gives up. Only the owner releases the lock
  (compare-and-delete in a ``WATCH`` transaction, no Lua), and its TTL frees it should the
  holder die.

A rejected token is dropped from the cache only if it is still the cached one, so a token a
neighbour has just written is never thrown away.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable

from redis.exceptions import WatchError

from wxmember.core.redis import RedisClient, settle
from wxmember.core.wechat.errors import WeChatNetworkError

TokenFetcher = Callable[[str | None], Awaitable[tuple[str, int]]]
"""Fetches ``(token, ttl_seconds)``; its argument is the token just rejected, if any."""

POLL_INTERVAL = 0.025


def _text(value: bytes | str | None) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


def ticket_key(kind: str, appid: str) -> str:
    """The Redis key of an API ticket of ``kind`` (``wx_card``) for one appid."""
    return f"wxmember:wechat:ticket:{kind}:{appid}"


class AccessTokenCache:
    """Single-flight cache of one credential of one appid over a shared Redis.

    The access token by default; ``key`` names another credential (an API ticket) and ``what``
    says what it is in errors.
    """

    def __init__(
        self,
        *,
        redis: RedisClient,
        appid: str,
        fetch: TokenFetcher,
        lock_ttl: float,
        endpoint: str = "/cgi-bin/stable_token",
        key: str | None = None,
        what: str = "the access token",
    ) -> None:
        self._redis = redis
        self._fetch = fetch
        self._lock_ttl = lock_ttl
        self._endpoint = endpoint
        self._what = what
        self.token_key = key or f"wxmember:wechat:token:{appid}"
        self.lock_key = f"{self.token_key}:lock"
        self._task: asyncio.Task[str] | None = None
        self._task_for: str | None = None

    async def get(self) -> str:
        """A token from the cache, or a freshly fetched one."""
        cached = _text(await self._redis.get(self.token_key))
        if cached:
            return cached
        return await self._single_flight(None)

    async def renew(self, rejected: str) -> str:
        """A token other than ``rejected``, which WeChat has just refused."""
        cached = _text(await self._redis.get(self.token_key))
        if cached and cached != rejected:
            return cached  # someone already replaced it
        await self._delete_if_equals(self.token_key, rejected)
        return await self._single_flight(rejected)

    async def _single_flight(self, rejected: str | None) -> str:
        task = self._task
        if task is None or task.done() or self._task_for != rejected:
            task = asyncio.ensure_future(self._refresh(rejected))
            task.add_done_callback(_consume_outcome)
            self._task, self._task_for = task, rejected
        # shield: a cancelled caller must not cancel the refresh others are waiting for
        return await asyncio.shield(task)

    async def _refresh(self, rejected: str | None) -> str:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._lock_ttl + 1.0
        while True:
            owner = secrets.token_hex(16)
            if await self._redis.set(self.lock_key, owner, nx=True, px=int(self._lock_ttl * 1000)):
                try:
                    cached = _text(await self._redis.get(self.token_key))
                    if cached and cached != rejected:
                        return cached
                    token, ttl = await self._fetch(rejected)
                    await self._redis.set(self.token_key, token, ex=ttl)
                    return token
                finally:
                    await self._delete_if_equals(self.lock_key, owner)
            while True:
                if loop.time() >= deadline:
                    raise WeChatNetworkError(
                        f"timed out waiting for another process to refresh {self._what}",
                        self._endpoint,
                    )
                await asyncio.sleep(POLL_INTERVAL)
                cached = _text(await self._redis.get(self.token_key))
                if cached and cached != rejected:
                    return cached
                if not await self._redis.exists(self.lock_key):
                    break  # the holder gave up without a token: try to take the lock

    async def _delete_if_equals(self, key: str, value: str) -> None:
        """Delete ``key`` only while it still holds ``value``."""
        async with self._redis.pipeline(transaction=True) as pipe:
            try:
                await settle(self._redis)
                await pipe.watch(key)
                await settle(self._redis)
                if _text(await pipe.get(key)) != value:
                    return
                pipe.multi()
                await settle(self._redis)
                pipe.delete(key)
                await pipe.execute()
            except WatchError:
                pass  # changed meanwhile, so it is no longer ours to delete


def _consume_outcome(task: asyncio.Task[str]) -> None:
    """Mark a refresh task's exception as retrieved even if every waiter was cancelled."""
    if not task.cancelled():
        task.exception()
