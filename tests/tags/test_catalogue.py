"""The tags themselves: names unique whatever their case and spacing, renamed, deleted (with
the members who carried them), listed with member counts; every change audited."""

from __future__ import annotations

import asyncio

import pytest

from handlers.tags import TagPatch, delete_tag, list_tags, tag_member, update_tag
from tests.tags.kit import a_tag, carded_member, staff
from wxmember.core.errors import TagNameTaken, TagNotFound, ValidationFailed
from wxmember.core.inputs import name_key, normalise_name, validate
from wxmember.core.models import AuditEntry
from wxmember.core.models.tags import MemberTag, Tag

pytestmark = pytest.mark.usefixtures("client")


class TestNames:
    def test_spacing_is_collapsed_and_case_kept_for_display(self) -> None:
        assert normalise_name("  高  价值\t客户 ") == "高 价值 客户"
        assert normalise_name("VIP") == "VIP"

    def test_names_compare_without_case_or_width(self) -> None:
        assert name_key(" Vip ") == name_key("VIP") == name_key("ＶＩＰ")

    @pytest.mark.parametrize("name", ["", "   ", "x" * 33, "a\u200bb"])
    def test_an_empty_long_or_invisible_name_is_refused(self, name: str) -> None:
        with pytest.raises(ValidationFailed) as refused:
            validate(TagPatch, {"name": name})
        assert refused.value.code == "invalid_name"

    @pytest.mark.parametrize("colour", ["red", "#12345", "#1234567", "#GGGGGG"])
    def test_a_colour_is_rrggbb(self, colour: str) -> None:
        with pytest.raises(ValidationFailed) as refused:
            validate(TagPatch, {"colour": colour})
        assert refused.value.code == "invalid_colour"


class TestCreateTag:
    async def test_creates_and_audits(self) -> None:
        olga = await staff()
        tag = await a_tag(olga, "  VIP  客户 ", colour="#FF0000", description="到店消费高")
        assert (tag.name, tag.colour, tag.description) == ("VIP 客户", "#ff0000", "到店消费高")
        entry = await AuditEntry.get(action="tag.create")
        assert entry.actor == "olga"
        assert entry.target_type == "tag"
        assert entry.target_id == str(tag.id)
        assert entry.after is not None and entry.after["name"] == "VIP 客户"

    async def test_a_name_taken_in_another_case_is_409(self) -> None:
        olga = await staff()
        await a_tag(olga, "VIP")
        with pytest.raises(TagNameTaken):
            await a_tag(olga, " vip")
        assert await Tag.all().count() == 1
        assert await AuditEntry.filter(action="tag.create").count() == 1

    async def test_two_creates_of_one_name_at_once_make_one_tag(self) -> None:
        olga = await staff()
        outcomes = await asyncio.gather(
            *(a_tag(olga, "新客") for _ in range(8)), return_exceptions=True
        )
        made = [outcome for outcome in outcomes if isinstance(outcome, Tag)]
        refused = [outcome for outcome in outcomes if isinstance(outcome, TagNameTaken)]
        assert (len(made), len(refused)) == (1, 7)
        assert await Tag.all().count() == 1


class TestUpdateTag:
    async def test_renames_recolours_and_audits_before_and_after(self) -> None:
        olga = await staff()
        tag = await a_tag(olga, "VIP", colour="#ff0000")
        changed = await update_tag(
            olga, tag.id, validate(TagPatch, {"name": "超级 VIP", "colour": None})
        )
        assert (changed.name, changed.colour) == ("超级 VIP", None)
        entry = await AuditEntry.get(action="tag.update")
        assert entry.before is not None and entry.before["name"] == "VIP"
        assert entry.after is not None and entry.after["colour"] is None

    async def test_a_rename_to_another_tags_name_is_409_and_changes_nothing(self) -> None:
        olga = await staff()
        await a_tag(olga, "VIP")
        tag = await a_tag(olga, "新客")
        with pytest.raises(TagNameTaken):
            await update_tag(olga, tag.id, validate(TagPatch, {"name": "vip"}))
        assert (await Tag.get(id=tag.id)).name == "新客"
        assert not await AuditEntry.filter(action="tag.update").exists()

    async def test_changing_only_the_case_of_its_own_name_is_allowed(self) -> None:
        olga = await staff()
        tag = await a_tag(olga, "vip")
        assert (await update_tag(olga, tag.id, validate(TagPatch, {"name": "VIP"}))).name == "VIP"

    async def test_a_patch_that_changes_nothing_writes_nothing(self) -> None:
        olga = await staff()
        tag = await a_tag(olga, "VIP")
        await update_tag(olga, tag.id, validate(TagPatch, {"name": "VIP"}))
        assert not await AuditEntry.filter(action="tag.update").exists()

    async def test_an_unknown_tag_is_404(self) -> None:
        with pytest.raises(TagNotFound):
            await update_tag(await staff(), 999, validate(TagPatch, {"name": "x"}))


class TestDeleteTag:
    async def test_deleting_a_tag_in_use_takes_it_off_its_members_and_audits_the_count(
        self,
    ) -> None:
        olga = await staff()
        tag, other = await a_tag(olga, "VIP"), await a_tag(olga, "新客")
        members = [await carded_member() for _ in range(3)]
        for member in members:
            await tag_member(olga, member.id, tag.id)
        await tag_member(olga, members[0].id, other.id)
        _, untagged = await delete_tag(olga, tag.id)
        assert untagged == 3
        assert not await Tag.filter(id=tag.id).exists()
        assert await MemberTag.all().count() == 1  # the other tag stays
        entry = await AuditEntry.get(action="tag.delete")
        assert entry.after == {"members_untagged": 3}
        assert entry.before is not None and entry.before["name"] == "VIP"

    async def test_an_unknown_tag_is_404(self) -> None:
        with pytest.raises(TagNotFound):
            await delete_tag(await staff(), 12345)


class TestListTags:
    async def test_newest_first_with_live_member_counts(self) -> None:
        olga = await staff()
        first, second = await a_tag(olga, "VIP"), await a_tag(olga, "新客")
        kept, gone = await carded_member(), await carded_member()
        for member in (kept, gone):
            await tag_member(olga, member.id, first.id)
        gone.deleted_at = gone.created_at
        await gone.save(update_fields=["deleted_at"])
        listed = await list_tags(None, 20)
        assert [(tag.name, count) for tag, count in listed] == [("新客", 0), ("VIP", 1)]
        assert [tag.id for tag, _ in await list_tags(second.id, 20)] == [first.id]
