"""Staff serving a member at the counter: one search box, and the member's own rights (export,
deletion) exercised by an owner at the member's request."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient

from handlers import audit
from handlers.members import account, lookup
from handlers.members.cards import card_face_cache_key
from handlers.operators.accounts import create_operator
from tests.factories import create_member
from wxmember.core.context import Services
from wxmember.core.errors import CardRequired, Forbidden, ValidationFailed
from wxmember.core.models import AuditEntry, Member, Operator, Role

PHONE = "13812345678"


async def _staff(role: Role) -> Operator:
    return await create_operator(f"{role.value}-desk", "correct-horse-battery", role)


async def _with_phone(services: Services, name: str, phone: str) -> Member:
    member = await create_member(name=name)
    await Member.filter(id=member.id).update(
        phone_enc=services.cipher.encrypt(phone), phone_hash=services.cipher.lookup_hash(phone)
    )
    return await Member.get(id=member.id)


class TestMemberQuery:
    @pytest.mark.parametrize(
        ("typed", "criterion"),
        [
            ("4111111111111111", {"card_no": "4111111111111111"}),
            ("4111 1111 1111 1111", {"card_no": "4111111111111111"}),
            ("13812345678", {"phone": PHONE}),
            ("138-1234-5678", {"phone": PHONE}),
            ("+86 138 1234 5678", {"phone": "+86" + PHONE}),
            ("+852 9123 4567", {"phone": "+85291234567"}),
            ("张", {"name": "张"}),
            (" 张三 ", {"name": "张三"}),
            ("Zhang 3", {"name": "Zhang 3"}),
            ("", {}),
            ("   ", {}),
        ],
    )
    def test_what_staff_type_names_one_criterion(
        self, typed: str, criterion: dict[str, str]
    ) -> None:
        assert lookup.member_query(typed) == criterion

    @pytest.mark.parametrize(
        "typed", ["138123", "1381234567", "411111111111111", "12345678901234567"]
    )
    def test_a_part_of_a_number_is_refused(self, typed: str) -> None:
        with pytest.raises(ValidationFailed) as refused:
            lookup.member_query(typed)
        assert refused.value.code == "invalid_member_query"
        assert refused.value.details == {"field": "q"}


class TestFindMembers:
    async def test_card_phone_and_name_each_find_the_member(
        self, client: TestClient, services: Services
    ) -> None:
        zhang = await _with_phone(services, "张三", PHONE)
        await _with_phone(services, "李四", "13900001111")
        assert zhang.card_no is not None
        for typed in (zhang.card_no, "138 1234 5678", "+86 138 1234 5678", "张"):
            found = await lookup.find_members(services, typed)
            assert [member.id for member in found] == [zhang.id]
        chan = await _with_phone(services, "陈五", "+85291234567")
        found = await lookup.find_members(services, "+852 9123 4567")
        assert [member.id for member in found] == [chan.id]

    async def test_nothing_typed_lists_the_newest_first(
        self, client: TestClient, services: Services
    ) -> None:
        first = await create_member(name="甲")
        second = await create_member(name="乙")
        found = await lookup.find_members(services, "", limit=1)
        assert [member.id for member in found] == [second.id, first.id]  # limit + 1 rows


class TestExportForMember:
    async def test_an_owner_gets_the_members_data_and_the_log_records_it(
        self, client: TestClient, services: Services
    ) -> None:
        owner = await _staff(Role.OWNER)
        member = await _with_phone(services, "张三", PHONE)
        data = await account.export_for_member(services, owner, member.id)
        assert data["profile"]["phone"] == PHONE
        entry = await AuditEntry.get(action="member.export")
        assert (entry.actor, entry.target_type, entry.target_id) == (
            "owner-desk",
            "member",
            str(member.id),
        )
        assert PHONE not in str(entry.after)

    async def test_an_operator_is_refused_and_nothing_is_logged(
        self, client: TestClient, services: Services
    ) -> None:
        operator = await _staff(Role.OPERATOR)
        member = await _with_phone(services, "张三", PHONE)
        with pytest.raises(Forbidden) as refused:
            await account.export_for_member(services, operator, member.id)
        assert refused.value.code == "reveal_not_allowed"
        assert not await AuditEntry.exists(action="member.export")


class TestDeleteAtMemberRequest:
    async def test_the_typed_card_number_deletes_and_the_log_records_it(
        self, client: TestClient, services: Services
    ) -> None:
        owner = await _staff(Role.OWNER)
        member = await _with_phone(services, "张三", PHONE)
        await services.redis.hset(card_face_cache_key(member.id), mapping={"etag": "x"})
        assert member.card_no is not None
        spaced = " ".join(member.card_no[i : i + 4] for i in range(0, 16, 4))
        await account.delete_at_member_request(services, owner, member.id, typed_card_no=spaced)

        wiped = await Member.get(id=member.id)
        assert wiped.deleted_at is not None
        assert (wiped.name, wiped.phone_hash, wiped.card_no) == (None, None, None)
        assert not await services.redis.exists(card_face_cache_key(member.id))
        entry = await AuditEntry.get(action="member.delete")
        assert (entry.target_type, entry.target_id) == ("member", str(member.id))
        assert "张三" not in str(entry.after) and PHONE not in str(entry.after)

    async def test_another_number_deletes_nothing(
        self, client: TestClient, services: Services
    ) -> None:
        owner = await _staff(Role.OWNER)
        member = await create_member(name="张三")
        with pytest.raises(ValidationFailed) as refused:
            await account.delete_at_member_request(
                services, owner, member.id, typed_card_no="4111111111111111"
            )
        assert refused.value.code == "invalid_confirm_card_no"
        assert refused.value.details == {"field": "confirm_card_no"}
        assert (await Member.get(id=member.id)).deleted_at is None
        assert not await AuditEntry.exists(action="member.delete")

    async def test_operators_may_not_delete(self, client: TestClient, services: Services) -> None:
        operator = await _staff(Role.OPERATOR)
        member = await create_member(name="张三")
        assert member.card_no is not None
        with pytest.raises(Forbidden) as refused:
            await account.delete_at_member_request(
                services, operator, member.id, typed_card_no=member.card_no
            )
        assert refused.value.code == "erase_not_allowed"
        assert (await Member.get(id=member.id)).deleted_at is None

    async def test_a_member_without_a_card_has_no_number_to_type(
        self, client: TestClient, services: Services
    ) -> None:
        owner = await _staff(Role.OWNER)
        member = await create_member(with_card=False)
        with pytest.raises(CardRequired):
            await account.delete_at_member_request(services, owner, member.id, typed_card_no="")


class TestAuditOfOneMember:
    async def test_the_log_of_one_member_leaves_out_the_others(
        self, client: TestClient, services: Services
    ) -> None:
        owner = await _staff(Role.OWNER)
        mine = await _with_phone(services, "张三", PHONE)
        other = await _with_phone(services, "李四", "13900001111")
        for member in (mine, other, mine):
            await lookup.member_detail(services, owner, member.id, reveal_phone=True)
        rows = await audit.entries(None, 10, "member", target_id=mine.id)
        assert [row.target_id for row in rows] == [str(mine.id)] * 2
