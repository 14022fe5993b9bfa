"""The kernel: the patterns every operation of the service shares, written once.

- `get_member(id)`: a member by id, or `MemberNotFound` (the one place a missing member is
  refused, with `lock_member`);
- `transaction(using_db)`: join the caller's transaction, or open one;
- `lock_member(conn, id)` / `member_lock(ref)`: the member row locked once per transaction and
  passed down as a `LockedMember`, so the points ledger, growth and the flows that combine them
  (a check-in earns points and growth) never lock the same row twice;
- `savepoint(conn)`: a statement that may fail on a constraint without aborting the enclosing
  transaction (PostgreSQL aborts the whole transaction after an error otherwise);
- `continue_after(query, cursor)`: the rows after a page's cursor, for any id column;
- `insert_once(model, conn, **values)`: an insert under a unique key (an idempotency key, an
  openid) that does nothing when the key is taken; `None` when a concurrent writer's row with
  that key won, so the caller answers with the winner instead of writing twice.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TypeVar, cast

from tortoise import fields
from tortoise.backends.base.client import BaseDBAsyncClient, TransactionContext
from tortoise.models import Model
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from wxmember.core.errors import MemberNotFound
from wxmember.core.member_cache import changed
from wxmember.core.models import Member
from wxmember.core.prepared import InsertRow, LockById, RowById, RowsBy

ModelT = TypeVar("ModelT", bound=Model)


@asynccontextmanager
async def transaction(
    using_db: BaseDBAsyncClient | None = None,
) -> AsyncIterator[BaseDBAsyncClient]:
    """Join the caller's transaction when given one, else open a new one.

    Operations that do not lock a member take `using_db`, so that a flow (a mall redemption
    spends points, takes stock and issues a coupon) commits or rolls back as one.
    """
    if using_db is not None:
        yield using_db
        return
    async with in_transaction() as conn:
        yield conn


def savepoint(conn: BaseDBAsyncClient) -> TransactionContext:
    """A savepoint inside `conn`'s transaction: an error in the block rolls back to it only.

    Tortoise has no public call for a savepoint on a given connection; entering a
    transaction client's `_in_transaction()` again is how Tortoise itself nests, on both
    backends, so this one wrapper is the only place that reaches for it.
    """
    return conn._in_transaction()


async def insert_once(
    model: type[ModelT], conn: BaseDBAsyncClient | None, **values: object
) -> ModelT | None:
    """Insert a row; None when a unique constraint says it exists already.

    One statement that does nothing on a taken key, so losing the race leaves the caller's
    transaction usable without a savepoint; without `conn` it runs on its own.
    """
    inserts = _INSERTS.get(model)
    if inserts is None:
        inserts = _INSERTS[model] = InsertRow(model, skip_taken=True)
    return cast(ModelT | None, await inserts.insert(conn or model._meta.db, **values))


_INSERTS: dict[type[Model], InsertRow[Model]] = {}  # one per model


@dataclass(eq=False)
class LockedMember:
    """A live member's row, locked until `conn`'s transaction ends.

    `done` records steps that need to happen once per transaction (for example expiring the
    member's due points before the first ledger change), so later operations skip them.
    """

    row: Member
    conn: BaseDBAsyncClient
    done: set[str] = field(default_factory=set)

    @property
    def id(self) -> int:
        return self.row.id


async def lock_member(
    conn: BaseDBAsyncClient, member_id: int, *, include_deleted: bool = False
) -> LockedMember:
    """Lock a live member for this transaction; `MemberNotFound` otherwise.

    Deleted members keep their anonymous ledger, so housekeeping that maintains it (expiring
    due points) passes `include_deleted`; every operation on behalf of someone does not.
    `FOR NO KEY UPDATE` on PostgreSQL: inserts that reference the member (ledger rows, coupons)
    take a key-share lock, which this one does not block, so they cannot deadlock with it.
    """
    row = await _LOCK_MEMBER.get(conn, member_id, any_row=include_deleted)
    if row is None:
        raise MemberNotFound()
    changed(member_id)
    return LockedMember(row, conn)


_LOCK_MEMBER = LockById(Member, unless_set="deleted_at")

# The member behind nearly every request, with their tier, read by one fixed statement.
MEMBER_WITH_TIER = RowById(Member, "tier")
_MEMBER = RowsBy(Member, "id", limit=1)


async def get_member(
    member_id: int,
    *,
    include_deleted: bool = False,
    with_tier: bool = False,
    using_db: BaseDBAsyncClient | None = None,
) -> Member:
    """A member by id (live ones unless `include_deleted`); `MemberNotFound` otherwise."""
    if with_tier:
        found = await MEMBER_WITH_TIER.get(member_id, using_db)
    else:
        found = await _MEMBER.first(using_db, member_id)
    if found is None or (found.deleted_at is not None and not include_deleted):
        raise MemberNotFound()
    return found


MemberRef = int | LockedMember


@asynccontextmanager
async def member_lock(
    ref: MemberRef, *, include_deleted: bool = False
) -> AsyncIterator[LockedMember]:
    """The caller's lock when it holds one, else a new transaction that locks the member."""
    if isinstance(ref, LockedMember):
        yield ref
        return
    async with in_transaction() as conn:
        yield await lock_member(conn, ref, include_deleted=include_deleted)


def _largest_id(model: type[Model]) -> int:
    return 2**63 - 1 if isinstance(model._meta.pk, fields.BigIntField) else 2**31 - 1


def id_fits(model: type[Model], value: int) -> bool:
    """Whether a number can be an id of this model's table (its column's width)."""
    return 1 <= value <= _largest_id(model)


def continue_after(
    query: QuerySet[ModelT], cursor: int | None, *, newest_first: bool = True
) -> QuerySet[ModelT]:
    """The rows after a page's cursor: `id < cursor` newest first, `id > cursor` oldest first.

    A cursor beyond the largest id its column can hold (a 32-bit id column, a cursor from
    elsewhere) is answered exactly as the comparison would be, without sending the database a
    number it would refuse to compare with the column.
    """
    if cursor is None:
        return query
    largest = _largest_id(query.model)
    if cursor > largest:
        return query if newest_first else query.filter(id__gt=largest)
    return query.filter(id__lt=cursor) if newest_first else query.filter(id__gt=cursor)
