"""Tags on members: tag and untag one member, a member's tags, the members carrying a tag.

Tagging is idempotent: the (member, tag) pair is unique in the database and the row is
inserted with "do nothing on a taken key", so tagging twice, or two operators at once, leaves
one row and answers both without an error. Only a real change is audited.
"""

from __future__ import annotations

from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError

from handlers import audit
from handlers.members.cards import tier_view
from handlers.tags.catalogue import tag_view
from wxmember.core.errors import TagNotFound
from wxmember.core.inputs import MAX_ID
from wxmember.core.kernel import get_member, id_fits, insert_once, transaction
from wxmember.core.models import Member, Operator
from wxmember.core.models.tags import MemberTag, Tag


def member_brief(member: Member) -> dict[str, Any]:
    """A member in a list of tagged members: enough to recognise and open them."""
    return {
        "id": member.id,
        "card_no": member.card_no,
        "name": member.name,
        "tier": tier_view(member.tier),
    }


def link_view(link: MemberTag) -> dict[str, Any]:
    """A tag a member carries: the tag, when it was put on and by whom (a username)."""
    return {
        "tag": tag_view(link.tag),
        "tagged_at": link.tagged_at.isoformat(),
        "tagged_by": link.tagged_by.username if link.tagged_by is not None else None,
    }


def tagged_view(link: MemberTag) -> dict[str, Any]:
    """A member carrying a tag, in the list of the tag's members."""
    return {
        "member": member_brief(link.member),
        "tagged_at": link.tagged_at.isoformat(),
        "tagged_by": link.tagged_by.username if link.tagged_by is not None else None,
    }


async def find_tag(tag_id: int, conn: BaseDBAsyncClient | None = None) -> Tag:
    """One tag; 404 `tag_not_found`."""
    tag = await Tag.filter(id=tag_id).using_db(conn).first() if id_fits(Tag, tag_id) else None
    if tag is None:
        raise TagNotFound()
    return tag


async def tag_member(actor: Operator, member_id: int, tag_id: int) -> tuple[MemberTag, bool]:
    """Put a tag on a live member (audited); `(link, False)` when they carried it already."""
    async with transaction() as conn:
        await get_member(member_id, using_db=conn)
        tag = await find_tag(tag_id, conn)
        link, created = await _insert_or_read(conn, actor, member_id, tag_id)
        if created:
            await audit.record(
                actor,
                "member.tag",
                "member",
                member_id,
                after={"tag_id": tag.id, "tag": tag.name},
                using_db=conn,
            )
        await link.fetch_related("tag", "tagged_by", using_db=conn)
    return link, created


async def _insert_or_read(
    conn: BaseDBAsyncClient, actor: Operator, member_id: int, tag_id: int
) -> tuple[MemberTag, bool]:
    """The new row and True, or the row a concurrent or earlier tagging wrote and False.

    Should that row be untagged between the insert and the read, the insert is tried again
    rather than answering with a row that is gone.
    """
    while True:
        try:
            link = await insert_once(
                MemberTag, conn, member_id=member_id, tag_id=tag_id, tagged_by_id=actor.id
            )
        except IntegrityError:  # the tag was deleted since it was read
            raise TagNotFound() from None
        if link is not None:
            return link, True
        found = await MemberTag.filter(member_id=member_id, tag_id=tag_id).using_db(conn).first()
        if found is not None:
            return found, False


async def untag_member(actor: Operator, member_id: int, tag_id: int) -> bool:
    """Take a tag off a live member (audited); False when they did not carry it."""
    async with transaction() as conn:
        await get_member(member_id, using_db=conn)
        tag = await find_tag(tag_id, conn)
        removed = await MemberTag.filter(member_id=member_id, tag_id=tag_id).using_db(conn).delete()
        if removed:
            await audit.record(
                actor,
                "member.untag",
                "member",
                member_id,
                before={"tag_id": tag.id, "tag": tag.name},
                using_db=conn,
            )
    return bool(removed)


async def member_tags(member_id: int) -> list[MemberTag]:
    """The tags a live member carries, in name order (read by the unique (member, tag) pair)."""
    await get_member(member_id)
    return (
        await MemberTag.filter(member_id=member_id)
        .select_related("tag", "tagged_by")
        .order_by("tag__name_key")
    )


async def members_with_tag(tag_id: int, after_member_id: int | None, limit: int) -> list[MemberTag]:
    """Live members carrying a tag, newest member first, `limit + 1` rows; the cursor is the
    last member's id (the (tag, member) index is walked in member order)."""
    await find_tag(tag_id)
    query = MemberTag.filter(tag_id=tag_id, member__deleted_at__isnull=True)
    # a cursor beyond every member id the column holds leaves nothing out (never sent: the
    # database would refuse to compare it with the column)
    if after_member_id is not None and after_member_id <= MAX_ID:
        query = query.filter(member_id__lt=after_member_id)
    return (
        await query.order_by("-member_id")
        .select_related("member", "member__tier", "tagged_by")
        .limit(limit + 1)
    )
