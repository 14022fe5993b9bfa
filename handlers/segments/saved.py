"""Saved segments (会员分群): named filters over the card holders, counted and sampled live.

A saved segment keeps its filter (handlers/segments/criteria.py), never its members: counting,
sampling and listing its members run the filter's one compiled statement
(handlers/segments/filters.py) against the members as they are now. Names are unique whatever
their case and spacing, like tags'. Every write is audited (`segment.create`, `.update`,
`.delete`) with the filter before and after.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from pydantic import AfterValidator, StringConstraints
from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError

from handlers import audit
from handlers.segments.criteria import Criteria, check_exists
from handlers.segments.filters import compile_filter, count_sql, ids_sql, sample_sql
from wxmember.core.context import Services
from wxmember.core.errors import SegmentNameTaken, SegmentNotFound
from wxmember.core.inputs import Body, CleanText, name_key, normalise_name
from wxmember.core.kernel import continue_after, insert_once, savepoint, transaction
from wxmember.core.models import Member, Operator
from wxmember.core.models.saved_segments import SavedSegment
from wxmember.core.security import mask_phone

NAME_LENGTH = 40
SAMPLE_SIZE = 20


def _name(value: str) -> str:
    name = normalise_name(value)
    if not 1 <= len(name) <= NAME_LENGTH or len(name_key(name)) > NAME_LENGTH:
        raise ValueError(f"1 to {NAME_LENGTH} characters")
    return name


Name = Annotated[str, StringConstraints(max_length=200), CleanText, AfterValidator(_name)]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200), CleanText]


class SegmentCreate(Body):
    """A new saved segment: its name, what it is for, and its filter."""

    name: Name
    description: Description = ""
    filter: Criteria


class SegmentPatch(Body):
    """What may change on a saved segment; a new `filter` replaces the old one whole."""

    name: Name | None = None
    description: Description | None = None
    filter: Criteria | None = None


class SegmentPreview(Body):
    """A filter not saved (yet): its live count and a sample of its members."""

    filter: Criteria


def criteria_of(segment: SavedSegment) -> Criteria:
    """The saved filter, read back through the schema."""
    return Criteria.model_validate(segment.criteria)


def segment_view(segment: SavedSegment, members: int | None = None) -> dict[str, Any]:
    """A saved segment as staff see it (and as the audit log records it)."""
    view: dict[str, Any] = {
        "id": segment.id,
        "name": segment.name,
        "description": segment.description,
        "filter": segment.criteria,
        "created_at": segment.created_at.isoformat(),
        "updated_at": segment.updated_at.isoformat(),
        "created_by_id": segment.created_by_id,
        "updated_by_id": segment.updated_by_id,
    }
    if members is not None:
        view["members"] = members
    return view


def _audited(segment: SavedSegment) -> dict[str, Any]:
    return {
        "name": segment.name,
        "description": segment.description,
        "filter": segment.criteria,
    }


async def create_segment(services: Services, actor: Operator, data: SegmentCreate) -> SavedSegment:
    """Save a filter under a name (audited); 409 `segment_name_taken`."""
    await check_exists(data.filter)
    now = services.clock.now()
    async with transaction() as conn:
        segment = await insert_once(
            SavedSegment,
            conn,
            name=data.name,
            name_key=name_key(data.name),
            description=data.description,
            criteria=data.filter.stored(),
            created_at=now,
            updated_at=now,
            created_by_id=actor.id,
            updated_by_id=actor.id,
        )
        if segment is None:
            raise SegmentNameTaken()
        await audit.record(
            actor, "segment.create", "segment", segment.id, after=_audited(segment), using_db=conn
        )
    return segment


async def get_segment(segment_id: int) -> SavedSegment:
    """One saved segment; 404 `segment_not_found`."""
    segment = await SavedSegment.get_or_none(id=segment_id)
    if segment is None:
        raise SegmentNotFound()
    return segment


async def update_segment(
    services: Services, actor: Operator, segment_id: int, patch: SegmentPatch
) -> SavedSegment:
    """Rename, redescribe or refilter a saved segment (audited, only real changes)."""
    changes: dict[str, Any] = {}
    if patch.name is not None:
        changes["name"] = patch.name
        changes["name_key"] = name_key(patch.name)
    if patch.description is not None:
        changes["description"] = patch.description
    if patch.filter is not None:
        await check_exists(patch.filter)
        changes["criteria"] = patch.filter.stored()
    async with transaction() as conn:
        segment = await SavedSegment.select_for_update().using_db(conn).get_or_none(id=segment_id)
        if segment is None:
            raise SegmentNotFound()
        before = _audited(segment)
        changes = {key: value for key, value in changes.items() if getattr(segment, key) != value}
        if not changes:
            return segment
        changes |= {"updated_at": services.clock.now(), "updated_by_id": actor.id}
        segment.update_from_dict(changes)
        try:
            async with savepoint(conn):
                await segment.save(using_db=conn, update_fields=list(changes))
        except IntegrityError:
            raise SegmentNameTaken() from None
        await audit.record(
            actor,
            "segment.update",
            "segment",
            segment.id,
            before=before,
            after=_audited(segment),
            using_db=conn,
        )
    return segment


async def delete_segment(actor: Operator, segment_id: int) -> SavedSegment:
    """Delete a saved segment (audited); its members are untouched."""
    async with transaction() as conn:
        segment = await SavedSegment.select_for_update().using_db(conn).get_or_none(id=segment_id)
        if segment is None:
            raise SegmentNotFound()
        await segment.delete(using_db=conn)
        await audit.record(
            actor, "segment.delete", "segment", segment_id, before=_audited(segment), using_db=conn
        )
    return segment


async def list_segments(after_id: int | None, limit: int) -> list[SavedSegment]:
    """Saved segments newest first, `limit + 1` rows for paging."""
    return await continue_after(SavedSegment.all().order_by("-id"), after_id).limit(limit + 1)


def _conn() -> BaseDBAsyncClient:
    return connections.get("default")


async def count(services: Services, criteria: Criteria) -> int:
    """How many live card holders the filter selects now (one statement)."""
    conn = _conn()
    compiled = compile_filter(criteria, conn.capabilities.dialect, services.config.brand.tz)
    _, rows = await conn.execute_query(count_sql(conn, compiled), compiled.params)
    return int(rows[0]["n"])


async def sample(
    services: Services, criteria: Criteria, limit: int = SAMPLE_SIZE
) -> list[dict[str, Any]]:
    """The newest `limit` members the filter selects: id, card number, masked phone, name,
    tier (one statement)."""
    conn = _conn()
    compiled = compile_filter(criteria, conn.capabilities.dialect, services.config.brand.tz)
    _, rows = await conn.execute_query(sample_sql(conn, compiled, limit), compiled.params)
    found = []
    for row in rows:
        phone = services.cipher.decrypt(row["phone_enc"]) if row["phone_enc"] else None
        tier = None
        if row["tier_id"] is not None:
            tier = {
                "id": row["tier_id"],
                "name": row["tier_name"],
                "level": row["tier_level"],
                "color": row["tier_color"],
            }
        found.append(
            {
                "id": row["id"],
                "card_no": row["card_no"],
                "name": row["name"],
                "phone": mask_phone(phone),
                "tier": tier,
            }
        )
    return found


async def member_ids(
    services: Services, criteria: Criteria, batch: int = 5000
) -> AsyncIterator[list[int]]:
    """The ids the filter selects, ascending, a batch per statement over a range of `batch`
    member ids (so each statement reads only that range's purchases); empty ranges yield
    nothing."""
    async for _, ids in member_id_ranges(services, criteria, batch=batch):
        if ids:
            yield ids


async def member_id_ranges(
    services: Services, criteria: Criteria, *, after: int = 0, batch: int = 5000
) -> AsyncIterator[tuple[int, list[int]]]:
    """Per range of `batch` member ids above `after`: the range's highest id and the ids in it
    the filter selects (maybe none), so a caller can record how far it has gone and resume."""
    conn = _conn()
    compiled = compile_filter(
        criteria, conn.capabilities.dialect, services.config.brand.tz, id_range=True
    )
    sql = ids_sql(conn, compiled)
    last = await Member.all().order_by("-id").first().values_list("id", flat=True)
    highest = int(last) if last is not None else 0  # type: ignore[call-overload]
    low = after
    while low < highest:
        high = min(low + batch, highest)
        _, rows = await conn.execute_query(sql, [low, high, *compiled.params[2:]])
        yield high, [int(row["id"]) for row in rows]
        low = high


async def preview(services: Services, criteria: Criteria) -> dict[str, Any]:
    """A filter's live count and sample, saved or not (tiers and tags checked to exist)."""
    await check_exists(criteria)
    return {"members": await count(services, criteria), "sample": await sample(services, criteria)}


__all__ = [
    "SAMPLE_SIZE",
    "SegmentCreate",
    "SegmentPatch",
    "SegmentPreview",
    "count",
    "create_segment",
    "criteria_of",
    "delete_segment",
    "get_segment",
    "list_segments",
    "member_id_ranges",
    "member_ids",
    "preview",
    "sample",
    "segment_view",
    "update_segment",
]
