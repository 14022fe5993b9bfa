"""The scheduler's leader lease in Redis: of several scheduler processes, exactly one runs jobs.

`SET key <holder> NX PX <lease>` takes the lease when nobody holds it. The holder renews it with
a compare-and-renew (WATCH the key, check it still names this holder, PEXPIRE in MULTI), so a
process that lost the lease (it stalled past the expiry and another took over) can never extend
the new holder's lease; release is a compare-and-delete the same way. A holder that dies stops
renewing; the key expires and the next process to try takes over.

A compare-and-renew or -delete that is cancelled or fails midway never leaves its connection
behind: it goes back to the pool, closed if a reply may still be unread on it. On a Redis Cluster
the lease is one key, so its transaction runs on the node that holds it; the cluster's pipeline
gives its connection back to that node the same way (it closes a connection whose exchange was
cut short, and UNWATCHes or closes one still watching).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
from collections.abc import Callable

from redis.asyncio.client import Pipeline
from redis.asyncio.cluster import ClusterPipeline
from redis.exceptions import WatchError

from wxmember.core.redis import RedisClient, settle

LEASE_KEY = "wxmember:scheduler:leader"


def process_holder_id() -> str:
    """Names this process in the lease: host, pid and a random part (pids get reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


class LeaderLease:
    """One process's view of the lease; every method asks Redis."""

    def __init__(
        self, redis: RedisClient, *, holder: str, seconds: float, key: str = LEASE_KEY
    ) -> None:
        self.redis = redis
        self.holder = holder
        self.seconds = seconds
        self.key = key
        self._mine = holder.encode()

    @property
    def _ms(self) -> int:
        return max(1, int(self.seconds * 1000))

    async def acquire(self) -> bool:
        """Take the lease if free (or keep it if already ours); True when we hold it."""
        if await self.redis.set(self.key, self._mine, nx=True, px=self._ms):
            return True
        return await self.renew()

    async def renew(self) -> bool:
        """Extend the lease if it is still ours; False when someone else holds it or none."""
        return await self._if_mine(lambda pipe: pipe.pexpire(self.key, self._ms))

    async def release(self) -> bool:
        """Give the lease up if it is ours, so another process need not wait for the expiry."""
        return await self._if_mine(lambda pipe: pipe.delete(self.key))

    async def held(self) -> bool:
        """Whether the lease names this process right now."""
        return await self.redis.get(self.key) == self._mine

    async def holder_now(self) -> str | None:
        """Who holds the lease, if anyone."""
        value = await self.redis.get(self.key)
        return value.decode() if isinstance(value, bytes) else value

    async def _if_mine(self, action: Callable[[Pipeline | ClusterPipeline], object]) -> bool:
        pipe = self.redis.pipeline(transaction=True)
        try:
            await settle(self.redis)
            await pipe.watch(self.key)
            await settle(self.redis)
            if await pipe.get(self.key) != self._mine:
                return False
            pipe.multi()
            await settle(self.redis)
            action(pipe)
            await pipe.execute()
        except WatchError:  # the key changed between the check and the write
            return False
        except BaseException:
            if isinstance(pipe, Pipeline):
                await _discard_connection(pipe)
            raise
        finally:
            if isinstance(pipe, ClusterPipeline) or pipe.connection is not None:
                # The connection always goes back to the pool (after an UNWATCH if still
                # watching), also when the caller is cancelled meanwhile.
                await asyncio.shield(pipe.reset())
        return True


async def _discard_connection(pipe: Pipeline) -> None:
    """Close the connection of a pipeline left in the middle of an exchange.

    Cancelled, timed out or cut off between a command and its reply, the connection may still
    have a reply to read or a WATCH in force; closed, it goes back to the pool to be reconnected
    on its next use instead of handing that reply to the next caller.
    """
    connection = pipe.connection
    if connection is None:  # nothing held: the exchange had ended and the connection was returned
        return
    pipe.watching = False  # a closed connection watches nothing: no UNWATCH to send
    await connection.disconnect(nowait=True)
