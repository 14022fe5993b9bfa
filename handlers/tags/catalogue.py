"""The tags: create, rename, recolour, delete, and list them with how many members carry each.

A tag's name is shown as typed (NFC, trimmed, runs of spaces made one) and is unique whatever
its case and spacing: `VIP`, ` vip ` and `Vip` are one tag. The folded form lives in its own
unique column, so two operators creating the same tag at once get one tag and one 409
`tag_name_taken`, never a 500.

Deleting a tag that members carry is allowed: it takes the tag off every member in the same
transaction, and the audit row records how many members lost it.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, StringConstraints
from tortoise.exceptions import IntegrityError
from tortoise.functions import Count

from handlers import audit
from wxmember.core.errors import TagNameTaken, TagNotFound
from wxmember.core.inputs import Body, CleanText, name_key, normalise_name
from wxmember.core.kernel import continue_after, insert_once, savepoint, transaction
from wxmember.core.models import Operator
from wxmember.core.models.tags import MemberTag, Tag

NAME_LENGTH = 32
_COLOUR = re.compile(r"^#[0-9a-f]{6}$")


def _name(value: str) -> str:
    name = normalise_name(value)
    if not 1 <= len(name) <= NAME_LENGTH:
        raise ValueError(f"1 to {NAME_LENGTH} characters")
    if len(name_key(name)) > NAME_LENGTH:
        raise ValueError(f"1 to {NAME_LENGTH} characters")
    return name


def _colour(value: str) -> str:
    colour = value.strip().lower()
    if not _COLOUR.fullmatch(colour):
        raise ValueError("a colour as #rrggbb")
    return colour


Name = Annotated[str, StringConstraints(max_length=200), CleanText, AfterValidator(_name)]
Colour = Annotated[str, StringConstraints(max_length=16), AfterValidator(_colour)]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200), CleanText]


class TagCreate(Body):
    """A new tag: its name, and optionally a colour and what it is for."""

    name: Name
    colour: Colour | None = None
    description: Description = ""


class TagPatch(Body):
    """What may change on a tag; `colour: null` takes its colour away."""

    name: Name | None = None
    colour: Colour | None = None
    description: Description | None = None


def tag_view(tag: Tag, members: int | None = None) -> dict[str, Any]:
    """A tag as staff see it (and as the audit log records it), with its member count."""
    view: dict[str, Any] = {
        "id": tag.id,
        "name": tag.name,
        "colour": tag.colour,
        "description": tag.description,
        "created_at": _iso(tag.created_at),
    }
    if members is not None:
        view["members"] = members
    return view


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


async def member_counts(tag_ids: list[int]) -> dict[int, int]:
    """Live members carrying each of these tags (one grouped count over the (tag, member)
    index)."""
    if not tag_ids:
        return {}
    rows = (
        await MemberTag.filter(tag_id__in=tag_ids, member__deleted_at__isnull=True)
        .annotate(count=Count("id"))
        .group_by("tag_id")
        .values_list("tag_id", "count")
    )
    return {int(tag_id): int(count) for tag_id, count in rows}


async def create_tag(actor: Operator, data: TagCreate) -> Tag:
    """Create a tag (audited); 409 `tag_name_taken` when another has the name in any case."""
    async with transaction() as conn:
        tag = await insert_once(
            Tag,
            conn,
            name=data.name,
            name_key=name_key(data.name),
            colour=data.colour,
            description=data.description,
        )
        if tag is None:
            raise TagNameTaken()
        await audit.record(actor, "tag.create", "tag", tag.id, after=tag_view(tag), using_db=conn)
    return tag


async def get_tag(tag_id: int) -> Tag:
    """One tag; 404 `tag_not_found`."""
    tag = await Tag.get_or_none(id=tag_id)
    if tag is None:
        raise TagNotFound()
    return tag


async def update_tag(actor: Operator, tag_id: int, patch: TagPatch) -> Tag:
    """Rename, recolour or redescribe a tag (audited); members keep it under its new name."""
    changes: dict[str, Any] = {
        name: getattr(patch, name)
        for name in patch.model_fields_set
        if getattr(patch, name) is not None or name == "colour"
    }
    if "name" in changes:
        changes["name_key"] = name_key(changes["name"])
    async with transaction() as conn:
        tag = await Tag.select_for_update().using_db(conn).get_or_none(id=tag_id)
        if tag is None:
            raise TagNotFound()
        before = tag_view(tag)
        changes = {name: value for name, value in changes.items() if getattr(tag, name) != value}
        if not changes:
            return tag
        tag.update_from_dict(changes)
        try:
            async with savepoint(conn):
                await tag.save(using_db=conn, update_fields=list(changes))
        except IntegrityError:
            raise TagNameTaken() from None
        await audit.record(
            actor, "tag.update", "tag", tag.id, before=before, after=tag_view(tag), using_db=conn
        )
    return tag


async def delete_tag(actor: Operator, tag_id: int) -> tuple[Tag, int]:
    """Delete a tag and take it off every member who carries it (audited with the count)."""
    async with transaction() as conn:
        tag = await Tag.select_for_update().using_db(conn).get_or_none(id=tag_id)
        if tag is None:
            raise TagNotFound()
        live = (
            await MemberTag.filter(tag_id=tag_id, member__deleted_at__isnull=True)
            .using_db(conn)
            .count()
        )
        await MemberTag.filter(tag_id=tag_id).using_db(conn).delete()
        await tag.delete(using_db=conn)
        await audit.record(
            actor,
            "tag.delete",
            "tag",
            tag_id,
            before=tag_view(tag),
            after={"members_untagged": live},
            using_db=conn,
        )
    return tag, live


async def list_tags(after_id: int | None, limit: int) -> list[tuple[Tag, int]]:
    """Tags newest first with their live member counts, `limit + 1` rows for paging."""
    tags = await continue_after(Tag.all().order_by("-id"), after_id).limit(limit + 1)
    counts = await member_counts([tag.id for tag in tags])
    return [(tag, counts.get(tag.id, 0)) for tag in tags]


async def all_tags(limit: int = 1000) -> list[Tag]:
    """Every tag in name order (for pickers), at most `limit`."""
    return await Tag.all().order_by("name_key").limit(limit)
