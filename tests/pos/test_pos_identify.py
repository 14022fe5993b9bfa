"""`POST /admin/api/v1/pos/identify`: who is at the till, by the dynamic code (and the static
card number only when the brand allows it)."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from cards.card_image import face_of
from handlers.members.cards import tier_of
from handlers.members.member_code import issue_member_code
from handlers.members.numbers import group_card_number, new_card_number
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


async def _face_qr_payload(services: Services, member: Member) -> str:
    """What the QR code on the member's card face encodes."""
    return face_of(services, member, await tier_of(member)).qr_payload


class TestIdentify:
    async def test_by_dynamic_code(
        self, client: TestClient, login_as: Any, services: Services
    ) -> None:
        member = await _member_with_phone(services)
        code = issue_member_code(services, member).payload
        response = await client.post(URL, json={"code": code}, headers=await login_as("cashier"))
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

    async def test_the_static_card_number_is_refused_by_default(
        self, client: TestClient, login_as: Any, services: Services
    ) -> None:
        member = await _member_with_phone(services)
        assert member.card_no is not None
        headers = await login_as("cashier")
        for typed in (member.card_no, group_card_number(member.card_no)):
            response = await client.post(URL, json={"code": typed}, headers=headers)
            assert response.status == 400
            assert await error_code(response) == "card_number_not_accepted"

    async def test_an_unknown_card_number_is_refused_the_same_way(
        self, client: TestClient, login_as: Any
    ) -> None:
        response = await client.post(
            URL, json={"code": new_card_number()}, headers=await login_as("cashier")
        )
        assert response.status == 400
        assert await error_code(response) == "card_number_not_accepted"

    async def test_the_card_face_qr_code_is_refused_by_default(
        self, client: TestClient, login_as: Any, services: Services
    ) -> None:
        member = await _member_with_phone(services)
        payload = await _face_qr_payload(services, member)
        assert payload != member.card_no
        response = await client.post(URL, json={"code": payload}, headers=await login_as("cashier"))
        assert response.status == 400
        assert await error_code(response) == "card_number_not_accepted"

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


class TestIdentifyWithACardFaceLink:
    @pytest.fixture
    def settings(self, settings: dict[str, Any]) -> dict[str, Any]:
        settings["brand"]["card_qr"] = "https://m.example.com/card?no={card_no}"
        return settings

    async def test_the_link_on_the_card_face_is_refused_by_default(
        self, client: TestClient, login_as: Any, services: Services
    ) -> None:
        member = await _member_with_phone(services)
        payload = await _face_qr_payload(services, member)
        assert payload == f"https://m.example.com/card?no={member.card_no}"
        response = await client.post(URL, json={"code": payload}, headers=await login_as("cashier"))
        assert response.status == 400
        assert await error_code(response) == "card_number_not_accepted"


class TestIdentifyWhenTheCardNumberIsAllowed:
    @pytest.fixture
    def settings(self, settings: dict[str, Any]) -> dict[str, Any]:
        settings["pos"] = {"allow_card_number": True}
        return settings

    async def test_the_card_number_is_accepted(
        self, client: TestClient, login_as: Any, services: Services
    ) -> None:
        member = await _member_with_phone(services)
        assert member.card_no is not None
        headers = await login_as("cashier")
        for typed in (member.card_no, group_card_number(member.card_no)):
            response = await client.post(URL, json={"code": typed}, headers=headers)
            assert response.status == 200
            assert (await response.json())["member_id"] == member.id

    async def test_the_card_face_qr_code_is_accepted(
        self, client: TestClient, login_as: Any, services: Services
    ) -> None:
        member = await _member_with_phone(services)
        payload = await _face_qr_payload(services, member)
        response = await client.post(URL, json={"code": payload}, headers=await login_as("cashier"))
        assert (await response.json())["member_id"] == member.id

    async def test_the_dynamic_code_keeps_working(
        self, client: TestClient, login_as: Any, services: Services
    ) -> None:
        member = await _member_with_phone(services)
        code = issue_member_code(services, member).payload
        response = await client.post(URL, json={"code": code}, headers=await login_as("cashier"))
        assert (await response.json())["member_id"] == member.id

    async def test_an_unknown_card_number_is_404(self, client: TestClient, login_as: Any) -> None:
        response = await client.post(
            URL, json={"code": new_card_number()}, headers=await login_as("cashier")
        )
        assert response.status == 404
        assert await error_code(response) == "member_not_found"
