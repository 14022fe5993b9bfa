"""`POST /admin/api/v1/pos/identify`: who is at the till, by dynamic code or card number."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from handlers.members.member_code import issue_member_code
from handlers.members.numbers import new_card_number
from tests.factories import create_member
from tests.support.http import error_code
from wxmember.core.context import Services
from wxmember.core.models import Member

URL = "/admin/api/v1/pos/identify"


async def _member_with_phone(services: Services) -> Member:
    member = await create_member(name="王五")
    member.card_no = new_card_number()
    member.phone_enc = services.cipher.encrypt("13812345678")
    await member.save(update_fields=["card_no", "phone_enc"])
    return member


class TestIdentify:
    async def test_by_card_number(
        self, client: TestClient, login_as: Any, services: Services
    ) -> None:
        member = await _member_with_phone(services)
        response = await client.post(
            URL, json={"code": member.card_no}, headers=await login_as("cashier")
        )
        assert response.status == 200
        body = await response.json()
        assert body == {
            "member_id": member.id,
            "name": "王五",
            "phone": "138****5678",
            "card_no": member.card_no,
            "tier": {"id": body["tier"]["id"], "name": "普通会员", "level": 0},
            "points_balance": 0,
            "points_debt": 0,
        }

    async def test_by_dynamic_code(
        self, client: TestClient, login_as: Any, services: Services
    ) -> None:
        member = await _member_with_phone(services)
        code = issue_member_code(services, member).payload
        response = await client.post(URL, json={"code": code}, headers=await login_as("cashier"))
        assert (await response.json())["member_id"] == member.id

    async def test_unknown_code(self, client: TestClient, login_as: Any) -> None:
        response = await client.post(
            URL, json={"code": "6200000000000000"}, headers=await login_as("cashier")
        )
        assert response.status == 404
        assert await error_code(response) == "member_not_found"

    async def test_bad_body(self, client: TestClient, login_as: Any) -> None:
        headers = await login_as("cashier")
        for body in ({"code": " "}, {}, {"code": "x" * 65}):
            response = await client.post(URL, json=body, headers=headers)
            assert response.status == 400
            assert await error_code(response) == "invalid_code"
