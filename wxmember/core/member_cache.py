"""The member behind each request, kept between requests and dropped the moment it changes.

Every request of the mini-program API starts by reading its member and tier (the session
check, then the card, the tier, the points the views show). `MemberCache` keeps that row per
process and serves it only while its *stamp* is current. The stamp is the pair (this member's
change mark, everyone's change mark), held in Redis so that every process sees every change:

- a writer records the members it changes: `lock_member` records the member it locks, and the
  few writes that do not lock (logging out, the profile, deleting the account, linking the
  Official Account) call
  `changed(member_id)`; changes to many members at once (tier evaluation, a tier's definition,
  points expiry) call `changed_everyone()`;
- when the request, job or command that made them ends (`recording_changes`), after its
  transactions have committed, the marks are renewed in one round trip, before the answer
  leaves;
- a reader reads the stamp first and the row second, so a snapshot is never older than the
  stamp it is filed under, and the next request anywhere after a change sees it; a request
  reads each stamp once (`serving_request`), however many cached values it shows.

A mark is a random token replaced at each change (kept a day after the last one), so a mark
that expired and came back can never match an older snapshot by chance.

Values derived from one member's rows (their growth this period) are kept beside the member
under the same stamp (`derived`), and values every member shares (the tier ladder) under
everyone's mark (`shared`), so they are dropped by the same changes.

A write also drops the member from this process's caches at once. Entries live at most
`TTL_SECONDS` whatever happens, and when Redis cannot be asked the cache is bypassed (the row
is read), so an outage costs speed, never correctness; a failed renewal after a write leaves
other processes' snapshots at most `TTL_SECONDS` old, and is logged.

On the embedded setup (the in-process Redis stand-in, one process) the marks live in memory.
"""

from __future__ import annotations

import logging
import secrets
import time
import weakref
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from redis.exceptions import RedisError
from tortoise.models import Model

from wxmember.core.models import Member
from wxmember.core.redis_lane import Command, Lane

log = logging.getLogger(__name__)

TTL_SECONDS = 30.0
MAX_ENTRIES = 50_000
STAMP_SECONDS = 86_400
_EVERYONE = "member-stamp:all"

Stamp = tuple[bytes, bytes]
ValueT = TypeVar("ValueT")
ModelT = TypeVar("ModelT", bound=Model)


def _key(member_id: int) -> str:
    return f"member-stamp:{member_id}"


@dataclass
class _Changes:
    members: set[int] = field(default_factory=set)
    everyone: bool = False

    def take(self, other: _Changes) -> None:
        self.members |= other.members
        self.everyone = self.everyone or other.everyone
        other.members = set()
        other.everyone = False

    def __bool__(self) -> bool:
        return self.everyone or bool(self.members)


_recording: ContextVar[_Changes | None] = ContextVar("member_changes", default=None)
# The stamps a request has read so far (`MemberCache.serving_request`), by Redis key.
_seen: ContextVar[dict[str, bytes] | None] = ContextVar("member_stamps_seen", default=None)
# Changes made outside any recording scope (a test calling a handler, a script): published by the
# next scope that ends in this process.
_unscoped = _Changes()
_caches: weakref.WeakSet[MemberCache] = weakref.WeakSet()


def changed(*member_ids: int) -> None:
    """Record that these members' rows change in the current transaction."""
    for cache in list(_caches):
        cache.drop(*member_ids)
    seen = _seen.get()
    if seen is not None:
        for member_id in member_ids:
            seen.pop(_key(member_id), None)
    changes = _recording.get()
    (changes if changes is not None else _unscoped).members.update(member_ids)


def changed_everyone() -> None:
    """Record a change that may concern any member (a tier's definition, a batch job)."""
    for cache in list(_caches):
        cache.clear()
    seen = _seen.get()
    if seen is not None:
        seen.clear()
    changes = _recording.get()
    (changes if changes is not None else _unscoped).everyone = True


def _mark(value: bytes | str | None) -> bytes:
    return value.encode() if isinstance(value, str) else value or b""


class _Stamps:
    """Change marks: in Redis (through the service's lane), or in memory for the one-process
    embedded setup."""

    def __init__(self, lane: Lane | None) -> None:
        self.lane = lane
        self.local: dict[str, bytes] = {}

    async def everyone(self) -> bytes:
        seen = _seen.get()
        if seen is not None and _EVERYONE in seen:
            return seen[_EVERYONE]
        if self.lane is None:
            everyone = self.local.get(_EVERYONE, b"")
        else:
            (everyone,) = map(_mark, await self.lane.execute(("GET", _EVERYONE)))
        if seen is not None:
            seen[_EVERYONE] = everyone
        return everyone

    def reads(self, member_id: int) -> tuple[Command, ...]:
        """The commands `read` sends, for a caller's own batch; none without Redis or when
        this request has the stamps already."""
        seen = _seen.get()
        if self.lane is None or seen is None or (_key(member_id) in seen and _EVERYONE in seen):
            return ()
        return ("GET", _key(member_id)), ("GET", _EVERYONE)

    def note(self, member_id: int, replies: list[Any]) -> None:
        """File the replies to `reads` as this request's stamps."""
        seen = _seen.get()
        if seen is not None and len(replies) == 2:
            seen[_key(member_id)], seen[_EVERYONE] = map(_mark, replies)

    async def read(self, member_id: int) -> Stamp:
        key = _key(member_id)
        seen = _seen.get()
        if seen is not None and key in seen and _EVERYONE in seen:
            return seen[key], seen[_EVERYONE]
        if self.lane is None:
            mine, everyone = self.local.get(key, b""), self.local.get(_EVERYONE, b"")
        else:
            # Two GETs, not one MGET: on a Redis Cluster everyone's mark cannot share a hash
            # slot with every member's, and the cluster's lane sends each GET to its own node.
            mine, everyone = map(_mark, await self.lane.execute(("GET", key), ("GET", _EVERYONE)))
        if seen is not None:
            seen[key], seen[_EVERYONE] = mine, everyone
        return mine, everyone

    async def renew(self, changes: _Changes) -> None:
        keys = [_key(member_id) for member_id in sorted(changes.members)]
        if changes.everyone:
            keys.append(_EVERYONE)
        if self.lane is None:
            for key in keys:
                self.local[key] = secrets.token_bytes(8)
            return
        # Not a transaction: the keys lie in different hash slots on a cluster, and each mark
        # stands alone (a mark renewed without the others only drops more snapshots).
        await self.lane.execute(
            *(("SET", key, secrets.token_bytes(8), "EX", STAMP_SECONDS) for key in keys)
        )


@dataclass
class _Entry:
    stamp: Stamp
    member: Member
    until: float
    derived: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Shared:
    stamp: bytes
    value: Any
    until: float


class MemberCache:
    """Members with their tier, by id, for as long as their stamp is current."""

    def __init__(self, lane: Lane | None, clock: Callable[[], float] = time.monotonic) -> None:
        self._stamps = _Stamps(lane)
        self._entries: OrderedDict[int, _Entry] = OrderedDict()
        self._shared: dict[str, _Shared] = {}
        self._aliases: OrderedDict[str, int] = OrderedDict()
        self._clock = clock
        _caches.add(self)

    async def get(
        self, member_id: int, load: Callable[[int], Awaitable[Member | None]]
    ) -> Member | None:
        """The member (a copy the caller may change), from the cache or from `load`."""
        try:
            stamp = await self._stamps.read(member_id)
        except (RedisError, OSError) as exc:
            log.warning("member stamps unavailable; reading the row", extra={"error": str(exc)})
            return await load(member_id)
        entry = self._entries.get(member_id)
        now = self._clock()
        if entry is not None and entry.stamp == stamp and entry.until > now:
            return _copy(entry.member)
        member = await load(member_id)
        if member is None:
            self._entries.pop(member_id, None)
            return None
        self._entries[member_id] = _Entry(stamp, _copy(member), now + TTL_SECONDS)
        self._entries.move_to_end(member_id)
        while len(self._entries) > MAX_ENTRIES:
            self._entries.popitem(last=False)
        return member

    async def by_alias(
        self,
        alias: str,
        find: Callable[[], Awaitable[Member | None]],
        load: Callable[[int], Awaitable[Member | None]],
        holds: Callable[[Member], bool],
    ) -> Member | None:
        """A member known by something else than its id (an Official Account openid).

        The alias only says which member to look at: the member is then served as by `get`,
        current by its stamp, and must still `holds` the alias, else it is looked up again.
        """
        member_id = self._aliases.get(alias)
        if member_id is not None:
            member = await self.get(member_id, load)
            if member is not None and holds(member):
                return member
            self._aliases.pop(alias, None)
        found = await find()
        if found is not None:
            self._aliases[alias] = found.id
            self._aliases.move_to_end(alias)
            while len(self._aliases) > MAX_ENTRIES:
                self._aliases.popitem(last=False)
        return found

    def known_alias(self, alias: str) -> int | None:
        """The member this process last found behind an alias, unchecked (`by_alias` checks)."""
        return self._aliases.get(alias)

    def stamp_reads(self, member_id: int | None) -> tuple[Command, ...]:
        """Commands reading a member's stamps for this request, to go in a batch the caller
        sends anyway (a bot push's claim); hand their replies to `stamps_read`."""
        return () if member_id is None else self._stamps.reads(member_id)

    def stamps_read(self, member_id: int | None, replies: list[Any]) -> None:
        """This request's stamps of the member, read by the commands of `stamp_reads`."""
        if member_id is not None:
            self._stamps.note(member_id, replies)

    async def derived(
        self, member_id: int, name: str, load: Callable[[], Awaitable[ValueT]]
    ) -> ValueT:
        """A value computed from this member's rows, kept with the member's snapshot while
        its stamp is current (it is computed after the stamp is read, never older than it)."""
        entry = self._entries.get(member_id)
        if entry is None:
            return await load()
        try:
            current = await self._stamps.read(member_id) == entry.stamp
        except (RedisError, OSError):
            return await load()
        if current and name in entry.derived:
            return cast(ValueT, entry.derived[name])
        value = await load()
        if current:
            entry.derived[name] = value
        return value

    async def shared(self, name: str, load: Callable[[], Awaitable[ValueT]]) -> ValueT:
        """A value every member sees (the tier ladder), kept while no change concerns everyone.

        Callers must not change what they are given: the same value is handed to every caller.
        """
        try:
            stamp = await self._stamps.everyone()
        except (RedisError, OSError) as exc:
            log.warning("member stamps unavailable; reading afresh", extra={"error": str(exc)})
            return await load()
        now = self._clock()
        found = self._shared.get(name)
        if found is not None and found.stamp == stamp and found.until > now:
            return cast(ValueT, found.value)
        value = await load()
        self._shared[name] = _Shared(stamp, value, now + TTL_SECONDS)
        return value

    async def noted(self, name: str) -> set[int]:
        """A set this process fills with what it learns while no change concerns everyone (the
        coupons it knows sold out): a new, empty one after such a change or `TTL_SECONDS`.

        Unlike `shared` values, callers add to it: that is what it is for.
        """
        return await self.shared(name, _new_set)

    def drop(self, *member_ids: int) -> None:
        for member_id in member_ids:
            self._entries.pop(member_id, None)

    def clear(self) -> None:
        self._entries.clear()
        self._shared.clear()

    @asynccontextmanager
    async def serving_request(self) -> AsyncIterator[None]:
        """`recording_changes` for one request, which also reads each stamp once.

        A request is one moment: the session check, the tier ladder and the member's growth
        it shows share the stamps read first (one Redis round trip instead of three). The
        request's own changes forget the stamps they concern, so it reads those again.
        """
        token = _seen.set({})
        try:
            async with self.recording_changes():
                yield
        finally:
            _seen.reset(token)

    @asynccontextmanager
    async def recording_changes(self) -> AsyncIterator[None]:
        """Collect the changes made inside the block; renew their marks when it ends."""
        outer = _recording.get()
        if outer is not None:  # an enclosing scope renews them
            yield
            return
        changes = _Changes()
        token = _recording.set(changes)
        try:
            yield
        finally:
            _recording.reset(token)
            changes.take(_unscoped)
            if changes:
                await self.publish(changes)

    async def publish(self, changes: _Changes) -> None:
        try:
            await self._stamps.renew(changes)
        except (RedisError, OSError) as exc:
            log.warning(
                "member stamps not renewed; other processes may show these members for up to %d s",
                TTL_SECONDS,
                extra={"members": sorted(changes.members)[:20], "error": str(exc)},
            )


async def _new_set() -> set[int]:
    return set()


def _copy(member: Member) -> Member:
    """A copy of the member and of its tier, so no caller changes the cached snapshot."""
    duplicate = _shallow(member)
    tier = member.__dict__.get("_tier")
    if tier is not None:
        duplicate.__dict__["_tier"] = _shallow(tier)
    return duplicate


def _shallow(row: ModelT) -> ModelT:
    """`copy.copy` of a row (a model keeps its state in `__dict__`), without its generic path."""
    duplicate = object.__new__(type(row))
    duplicate.__dict__.update(row.__dict__)
    return duplicate
