"""Member search and detail for staff; phone numbers masked unless an owner reveals one."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.conftest import StaffLogin
from tests.factories import create_member
from wxmember.core.context import Services
from wxmember.core.models import AuditEntry, Member

PHONE = "13812345678"


async def _member(
    services: Services, name: str, card_no: str | None = None, phone: str | None = None
) -> Member:
    member = await create_member(name=name)
    updates: dict[str, Any] = {}
    if card_no is not None:
        updates["card_no"] = card_no
    if phone is not None:
        updates |= {
            "phone_enc": services.cipher.encrypt(phone),
            "phone_hash": services.cipher.lookup_hash(phone),
        }
    if updates:
        await Member.filter(id=member.id).update(**updates)
    return await Member.get(id=member.id)


async def _get(client: TestClient, path: str, headers: dict[str, str]) -> tuple[int, Any]:
    response = await client.get(path, headers=headers)
    return response.status, await response.json()


@pytest.fixture
async def people(services: Services) -> dict[str, Member]:
    return {
        "zhang": await _member(services, "张三", "4111111111111111", PHONE),
        "zhangwei": await _member(services, "张伟", "5555555555554444", "13900001111"),
        "li": await _member(services, "李四", "378282246310005".zfill(16), "+85291234567"),
    }


class TestSearch:
    async def test_by_card_number(
        self, client: TestClient, login_as: StaffLogin, people: dict[str, Member]
    ) -> None:
        headers = await login_as("operator")
        for typed in ("4111111111111111", "4111 1111 1111 1111"):
            status, body = await _get(client, f"/admin/api/v1/members?card_no={typed}", headers)
            assert status == 200
            assert [item["id"] for item in body["items"]] == [people["zhang"].id]
        item = body["items"][0]
        assert item["phone"] == "138****5678"
        assert item["phone_revealed"] is False
        assert item["tier"]["level"] == 0
        assert PHONE not in json.dumps(body)

    @pytest.mark.parametrize(
        ("typed", "who"),
        [
            ("13812345678", "zhang"),
            ("138 1234 5678", "zhang"),
            ("%2B8613812345678", "zhang"),
            ("%2B85291234567", "li"),
        ],
    )
    async def test_by_phone(
        self,
        client: TestClient,
        login_as: StaffLogin,
        people: dict[str, Member],
        typed: str,
        who: str,
    ) -> None:
        headers = await login_as("owner")
        status, body = await _get(client, f"/admin/api/v1/members?phone={typed}", headers)
        assert status == 200
        assert [item["id"] for item in body["items"]] == [people[who].id]
        assert "****" in body["items"][0]["phone"]

    async def test_by_name_contains_newest_first(
        self, client: TestClient, login_as: StaffLogin, people: dict[str, Member]
    ) -> None:
        headers = await login_as("operator")
        _, body = await _get(client, "/admin/api/v1/members?name=张", headers)
        assert [item["id"] for item in body["items"]] == [people["zhangwei"].id, people["zhang"].id]
        _, body = await _get(client, "/admin/api/v1/members?name=%25", headers)
        assert body["items"] == []  # LIKE wildcards are literal

    async def test_criteria_combine(
        self, client: TestClient, login_as: StaffLogin, people: dict[str, Member]
    ) -> None:
        headers = await login_as("operator")
        path = f"/admin/api/v1/members?name=张&phone={PHONE}"
        assert [i["id"] for i in (await _get(client, path, headers))[1]["items"]] == [
            people["zhang"].id
        ]
        path = "/admin/api/v1/members?name=李&phone=13812345678"
        assert (await _get(client, path, headers))[1]["items"] == []

    async def test_paged(
        self, client: TestClient, login_as: StaffLogin, people: dict[str, Member]
    ) -> None:
        headers = await login_as("operator")
        seen = []
        path = "/admin/api/v1/members?limit=2"
        while path:
            status, body = await _get(client, path, headers)
            assert status == 200
            seen += [item["id"] for item in body["items"]]
            cursor = body["next_cursor"]
            path = f"/admin/api/v1/members?limit=2&cursor={cursor}" if cursor else ""
        assert seen == sorted((m.id for m in people.values()), reverse=True)

    async def test_deleted_members_are_not_listed(
        self,
        client: TestClient,
        login_as: StaffLogin,
        people: dict[str, Member],
        services: Services,
    ) -> None:
        await Member.filter(id=people["li"].id).update(deleted_at=services.clock.now())
        headers = await login_as("operator")
        _, body = await _get(client, "/admin/api/v1/members", headers)
        assert people["li"].id not in [item["id"] for item in body["items"]]
        status, _ = await _get(client, f"/admin/api/v1/members/{people['li'].id}", headers)
        assert status == 404

    @pytest.mark.parametrize(
        ("query", "code"),
        [
            ("card_no=123", "invalid_card_no"),
            ("card_no=abcdabcdabcdabcd", "invalid_card_no"),
            ("phone=call-me", "invalid_phone"),
            ("phone=123", "invalid_phone"),
            ("name=" + "x" * 33, "invalid_name"),
            ("name=%20%20", "invalid_name"),
            ("limit=0", "invalid_limit"),
            ("cursor=zz", "invalid_cursor"),
        ],
    )
    async def test_bad_queries_are_400(
        self, client: TestClient, login_as: StaffLogin, query: str, code: str
    ) -> None:
        headers = await login_as("operator")
        status, body = await _get(client, f"/admin/api/v1/members?{query}", headers)
        assert (status, body["error"]["code"]) == (400, code)

    async def test_cashiers_may_not_search(self, client: TestClient, login_as: StaffLogin) -> None:
        headers = await login_as("cashier")
        status, body = await _get(client, "/admin/api/v1/members", headers)
        assert (status, body["error"]["code"]) == (403, "role_not_allowed")
        assert (await client.get("/admin/api/v1/members")).status == 401


class TestDetail:
    async def test_masked_by_default(
        self, client: TestClient, login_as: StaffLogin, people: dict[str, Member]
    ) -> None:
        headers = await login_as("operator")
        status, body = await _get(client, f"/admin/api/v1/members/{people['zhang'].id}", headers)
        assert status == 200
        assert body["name"] == "张三"
        assert body["card_no"] == "4111111111111111"
        assert body["phone"] == "138****5678"
        assert body["birthday"] == "1990-05-17"
        assert body["birthday_changes"] == 0
        assert await AuditEntry.all().count() == 0

    async def test_owner_reveals_the_phone_and_it_is_audited(
        self, client: TestClient, login_as: StaffLogin, people: dict[str, Member]
    ) -> None:
        headers = await login_as("owner", "olivia")
        member_id = people["zhang"].id
        response = await client.get(
            f"/admin/api/v1/members/{member_id}?reveal=phone",
            headers=headers | {"X-Request-Id": "req-reveal-0001"},
        )
        assert response.status == 200
        assert response.headers["Cache-Control"] == "no-store"
        body = await response.json()
        assert body["phone"] == PHONE
        assert body["phone_revealed"] is True
        entry = await AuditEntry.get(action="member.reveal_phone")
        assert (entry.actor, entry.target_type, entry.target_id) == (
            "olivia",
            "member",
            str(member_id),
        )
        assert entry.request_id == "req-reveal-0001"
        assert PHONE not in json.dumps([entry.before, entry.after])
        await _get(client, f"/admin/api/v1/members/{member_id}?reveal=phone", headers)
        assert await AuditEntry.filter(action="member.reveal_phone").count() == 2

    async def test_operators_may_not_reveal(
        self, client: TestClient, login_as: StaffLogin, people: dict[str, Member]
    ) -> None:
        headers = await login_as("operator")
        path = f"/admin/api/v1/members/{people['zhang'].id}?reveal=phone"
        status, body = await _get(client, path, headers)
        assert (status, body["error"]["code"]) == (403, "reveal_not_allowed")
        assert await AuditEntry.all().count() == 0

    async def test_nothing_to_reveal_is_not_audited(
        self, client: TestClient, login_as: StaffLogin, services: Services
    ) -> None:
        member = await _member(services, "无号")
        headers = await login_as("owner")
        status, body = await _get(
            client, f"/admin/api/v1/members/{member.id}?reveal=phone", headers
        )
        assert (status, body["phone"]) == (200, None)
        assert await AuditEntry.all().count() == 0

    @pytest.mark.parametrize(
        ("path", "status", "code"),
        [
            ("/admin/api/v1/members/999", 404, "member_not_found"),
            ("/admin/api/v1/members/abc", 404, "not_found"),
            ("/admin/api/v1/members/1?reveal=birthday", 400, "invalid_reveal"),
        ],
    )
    async def test_unknown_or_bad(
        self,
        client: TestClient,
        login_as: StaffLogin,
        people: dict[str, Member],
        path: str,
        status: int,
        code: str,
    ) -> None:
        headers = await login_as("owner")
        got, body = await _get(client, path, headers)
        assert (got, body["error"]["code"]) == (status, code)

    async def test_cashiers_may_not_see_members(
        self, client: TestClient, login_as: StaffLogin, people: dict[str, Member]
    ) -> None:
        headers = await login_as("cashier")
        status, _ = await _get(client, f"/admin/api/v1/members/{people['zhang'].id}", headers)
        assert status == 403
