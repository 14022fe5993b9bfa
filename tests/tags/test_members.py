"""Tagging one member: idempotent, safe when two operators do it at once, audited when it
changes something; a member's tags; the members carrying a tag, page by page."""

from __future__ import annotations

import asyncio

import pytest

from handlers.members.account import delete_account
from handlers.tags import member_tags, members_with_tag, tag_member, untag_member
from handlers.tags.catalogue import member_counts
from tests.tags.kit import a_tag, carded_member, staff
from wxmember.core.context import Services
from wxmember.core.errors import MemberNotFound, TagNotFound
from wxmember.core.models import AuditEntry
from wxmember.core.models.tags import MemberTag

pytestmark = pytest.mark.usefixtures("client")


class TestTagMember:
    async def test_tags_a_member_and_audits_it(self) -> None:
        olga = await staff()
        tag, member = await a_tag(olga, "VIP"), await carded_member()
        link, created = await tag_member(olga, member.id, tag.id)
        assert created
        assert (link.member_id, link.tag_id, link.tagged_by_id) == (member.id, tag.id, olga.id)
        entry = await AuditEntry.get(action="member.tag")
        assert (entry.target_type, entry.target_id) == ("member", str(member.id))
        assert entry.after == {"tag_id": tag.id, "tag": "VIP"}

    async def test_tagging_twice_is_one_row_and_one_audit_entry(self) -> None:
        olga, ivan = await staff(), await staff("ivan")
        tag, member = await a_tag(olga, "VIP"), await carded_member()
        first, _ = await tag_member(olga, member.id, tag.id)
        again, created = await tag_member(ivan, member.id, tag.id)
        assert not created
        assert again.id == first.id
        assert again.tagged_by is not None and again.tagged_by.username == "olga"
        assert await MemberTag.all().count() == 1
        assert await AuditEntry.filter(action="member.tag").count() == 1

    async def test_operators_tagging_one_member_at_once_leave_one_row(self) -> None:
        operators = [await staff(f"op{n}") for n in range(6)]
        tag, member = await a_tag(operators[0], "VIP"), await carded_member()
        outcomes = await asyncio.gather(
            *(tag_member(operator, member.id, tag.id) for operator in operators * 3)
        )
        assert sum(created for _, created in outcomes) == 1
        assert len({link.id for link, _ in outcomes}) == 1
        assert await MemberTag.filter(member_id=member.id, tag_id=tag.id).count() == 1
        assert await AuditEntry.filter(action="member.tag").count() == 1

    async def test_tagging_and_untagging_one_member_at_once_never_fails(self) -> None:
        operators = [await staff(f"op{n}") for n in range(4)]
        tag, member = await a_tag(operators[0], "VIP"), await carded_member()
        calls = [
            tag_member(operator, member.id, tag.id)
            if n % 2 == 0
            else untag_member(operator, member.id, tag.id)
            for n, operator in enumerate(operators * 5)
        ]
        await asyncio.gather(*calls)  # any error fails the test
        rows = await MemberTag.filter(member_id=member.id, tag_id=tag.id).count()
        assert rows in (0, 1)
        tagged = await AuditEntry.filter(action="member.tag").count()
        untagged = await AuditEntry.filter(action="member.untag").count()
        assert tagged - untagged == rows  # every change audited, and only changes

    async def test_an_unknown_member_or_tag_is_404_and_writes_nothing(self) -> None:
        olga = await staff()
        tag, member = await a_tag(olga, "VIP"), await carded_member()
        with pytest.raises(MemberNotFound):
            await tag_member(olga, 99999, tag.id)
        with pytest.raises(TagNotFound):
            await tag_member(olga, member.id, 99999)
        assert not await MemberTag.exists()

    async def test_a_deleted_member_cannot_be_tagged(self) -> None:
        olga = await staff()
        tag, member = await a_tag(olga, "VIP"), await carded_member()
        member.deleted_at = member.created_at
        await member.save(update_fields=["deleted_at"])
        with pytest.raises(MemberNotFound):
            await tag_member(olga, member.id, tag.id)


class TestAccountDeletion:
    async def test_a_deleted_account_loses_its_tags_and_the_counts_drop(
        self, services: Services
    ) -> None:
        olga = await staff()
        tag, member = await a_tag(olga, "VIP"), await carded_member()
        await tag_member(olga, member.id, tag.id)
        await delete_account(services, member)
        assert not await MemberTag.exists()
        assert await member_counts([tag.id]) == {}


class TestUntagMember:
    async def test_untags_and_audits(self) -> None:
        olga = await staff()
        tag, member = await a_tag(olga, "VIP"), await carded_member()
        await tag_member(olga, member.id, tag.id)
        assert await untag_member(olga, member.id, tag.id)
        assert not await MemberTag.exists()
        entry = await AuditEntry.get(action="member.untag")
        assert entry.before == {"tag_id": tag.id, "tag": "VIP"}

    async def test_untagging_a_member_without_the_tag_changes_nothing(self) -> None:
        olga = await staff()
        tag, member = await a_tag(olga, "VIP"), await carded_member()
        assert not await untag_member(olga, member.id, tag.id)
        assert not await AuditEntry.filter(action="member.untag").exists()


class TestMemberTags:
    async def test_a_members_tags_in_name_order(self) -> None:
        olga = await staff()
        member, other = await carded_member(), await carded_member()
        for name in ("b 新客", "A VIP", "c 流失"):
            await tag_member(olga, member.id, (await a_tag(olga, name)).id)
        links = await member_tags(member.id)
        assert [link.tag.name for link in links] == ["A VIP", "b 新客", "c 流失"]
        assert await member_tags(other.id) == []

    async def test_an_unknown_member_is_404(self) -> None:
        with pytest.raises(MemberNotFound):
            await member_tags(4242)


class TestMembersWithTag:
    async def test_live_members_newest_first_page_by_page(self) -> None:
        olga = await staff()
        tag, other = await a_tag(olga, "VIP"), await a_tag(olga, "新客")
        members = [await carded_member(f"会员{n}") for n in range(5)]
        for member in members:
            await tag_member(olga, member.id, tag.id)
        await tag_member(olga, members[0].id, other.id)
        members[2].deleted_at = members[2].created_at
        await members[2].save(update_fields=["deleted_at"])
        first = await members_with_tag(tag.id, None, 2)
        assert [link.member_id for link in first] == [members[4].id, members[3].id, members[1].id]
        rest = await members_with_tag(tag.id, members[3].id, 2)
        assert [link.member_id for link in rest] == [members[1].id, members[0].id]
        assert first[0].member.name == "会员4"

    async def test_an_unknown_tag_is_404(self) -> None:
        with pytest.raises(TagNotFound):
            await members_with_tag(777, None, 20)
