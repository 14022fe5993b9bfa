"""The member's own account: profile, birthday correction, export, deletion, privacy."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.members.flows import cardholder, login, login_headers, seed_tiers
from tests.support.http import bearer, error_code
from wxmember.core.context import Services
from wxmember.core.fake_wechat import FakeWeChat
from wxmember.core.models import Member

PHONE = "13812345678"


@pytest.fixture(autouse=True)
async def tiers(client: TestClient) -> None:
    await seed_tiers()


async def _patch(client: TestClient, headers: dict[str, str], body: Any) -> tuple[int, Any]:
    response = await client.patch("/api/v1/me", json=body, headers=headers)
    return response.status, await response.json()


class TestShowMe:
    async def test_profile_with_masked_phone(
        self, client: TestClient, fake_wechat: FakeWeChat
    ) -> None:
        headers, card = await cardholder(client, fake_wechat, phone=PHONE, gender="female")
        response = await client.get("/api/v1/me", headers=headers)
        body = await response.json()
        assert body["name"] == "张三"
        assert body["gender"] == "female"
        assert body["birthday"] == "1990-05-17"
        assert body["birthday_changeable"] is True
        assert body["phone"] == "138****5678"
        assert body["has_card"] is True
        assert body["card_no"] == card["card_no"]


class TestUpdateProfile:
    async def test_name_and_gender_change_and_redraw_the_card(
        self, client: TestClient, fake_wechat: FakeWeChat
    ) -> None:
        headers, _ = await cardholder(client, fake_wechat)
        before = (await client.get("/api/v1/card/image", headers=headers)).headers["ETag"]
        status, body = await _patch(client, headers, {"name": " 张小三 ", "gender": "undisclosed"})
        assert status == 200
        assert (body["name"], body["gender"]) == ("张小三", "undisclosed")
        after = (await client.get("/api/v1/card/image", headers=headers)).headers["ETag"]
        assert after != before
        status, body = await _patch(client, headers, {"name": "张小四"})
        assert (status, body["name"], body["gender"]) == (200, "张小四", "undisclosed")

    async def test_birthday_changes_once(self, client: TestClient, fake_wechat: FakeWeChat) -> None:
        headers, _ = await cardholder(client, fake_wechat)
        status, body = await _patch(client, headers, {"birthday": "1991-12-03"})
        assert status == 200
        assert body["birthday"] == "1991-12-03"
        assert body["birthday_changeable"] is False
        member = await Member.get(openid="o-member-1")
        assert (member.birth_month, member.birth_day, member.birthday_changes) == (12, 3, 1)
        # the same date again changes nothing and is fine
        assert (await _patch(client, headers, {"birthday": "1991-12-03"}))[0] == 200
        status, body = await _patch(client, headers, {"birthday": "1992-01-01"})
        assert status == 409
        assert body["error"]["code"] == "birthday_locked"
        member = await Member.get(openid="o-member-1")
        assert (member.birth_month, member.birth_day) == (12, 3)

    async def test_post_makes_the_same_change_for_wx_request(
        self, client: TestClient, fake_wechat: FakeWeChat
    ) -> None:
        """wx.request cannot send PATCH: POST /me is the same change."""
        headers, _ = await cardholder(client, fake_wechat)
        response = await client.post("/api/v1/me", json={"birthday": "1991-12-03"}, headers=headers)
        body = await response.json()
        assert response.status == 200
        assert (body["birthday"], body["birthday_changeable"]) == ("1991-12-03", False)
        response = await client.post("/api/v1/me", json={"birthday": "1992-01-01"}, headers=headers)
        assert (response.status, await error_code(response)) == (409, "birthday_locked")
        response = await client.post("/api/v1/me", json={}, headers=headers)
        assert (response.status, await error_code(response)) == (400, "nothing_to_change")

    async def test_concurrent_birthday_changes_make_one_change(
        self, client: TestClient, fake_wechat: FakeWeChat
    ) -> None:
        headers, _ = await cardholder(client, fake_wechat)
        dates = [f"1991-01-{day:02d}" for day in range(1, 11)]
        results = await asyncio.gather(
            *(_patch(client, headers, {"birthday": day}) for day in dates)
        )
        assert Counter(status for status, _ in results) == {200: 1, 409: 9}
        winner = next(body["birthday"] for status, body in results if status == 200)
        member = await Member.get(openid="o-member-1")
        assert member.birthday is not None
        assert member.birthday.isoformat() == winner
        assert (member.birth_month, member.birth_day) == (1, int(winner[-2:]))
        assert member.birthday_changes == 1

    @pytest.mark.parametrize(
        ("body", "code"),
        [
            ({"name": ""}, "invalid_name"),
            ({"name": "x" * 33}, "invalid_name"),
            ({"name": "a\tb"}, "invalid_name"),
            ({"gender": "robot"}, "invalid_gender"),
            ({"birthday": "2999-01-01"}, "invalid_birthday"),
            ({"birthday": "1990-13-01"}, "invalid_birthday"),
            ({"phone": "13900000000"}, "invalid_phone"),
            ({}, "nothing_to_change"),
        ],
    )
    async def test_invalid_changes_are_400(
        self, client: TestClient, fake_wechat: FakeWeChat, body: dict[str, Any], code: str
    ) -> None:
        headers, _ = await cardholder(client, fake_wechat)
        status, answer = await _patch(client, headers, body)
        assert (status, answer["error"]["code"]) == (400, code)
        member = await Member.get(openid="o-member-1")
        assert (member.name, member.birthday_changes) == ("张三", 0)

    async def test_without_a_card_is_409_card_required(
        self, client: TestClient, fake_wechat: FakeWeChat
    ) -> None:
        headers = await login_headers(client, fake_wechat)
        status, answer = await _patch(client, headers, {"name": "张三"})
        assert (status, answer["error"]["code"]) == (409, "card_required")


class TestExport:
    async def test_everything_held_about_the_member(
        self, client: TestClient, fake_wechat: FakeWeChat
    ) -> None:
        headers, card = await cardholder(client, fake_wechat, "o-exp", phone=PHONE)
        member = await Member.get(openid="o-exp")
        await Member.filter(id=member.id).update(points_balance=0, growth_total=42)
        response = await client.get("/api/v1/me/export", headers=headers)
        assert response.status == 200
        assert response.headers["Cache-Control"] == "no-store"
        data = await response.json()
        profile = data["profile"]
        assert profile["id"] == member.id
        assert profile["openid"] == "o-exp"
        assert profile["name"] == "张三"
        assert profile["birthday"] == "1990-05-17"
        assert profile["phone"] == PHONE  # their own data, in full
        assert data["card"]["card_no"] == card["card_no"]
        assert data["card"]["phone"] == PHONE
        assert data["card"]["tier"]["name"] == "普通会员"
        assert data["points"] == {"balance": 0, "debt": 0}
        assert data["growth"] == 42
        assert isinstance(data["records"], dict)
        text = json.dumps(data)
        for secret in (member.code_secret, member.phone_hash, member.session_key_enc):
            assert secret and secret not in text

    async def test_records_of_other_capabilities_are_included(
        self, client: TestClient, fake_wechat: FakeWeChat, services: Services
    ) -> None:
        from handlers import points

        headers, _ = await cardholder(client, fake_wechat, "o-exp")
        member = await Member.get(openid="o-exp")
        await points.earn(services, member.id, 30, reason="test gift", idempotency_key="gift-1")
        data = await (await client.get("/api/v1/me/export", headers=headers)).json()
        entries = data["records"]["points_entries"]
        assert [(entry["amount"], entry["reason"]) for entry in entries] == [(30, "test gift")]
        assert all(entry["member_id"] == member.id for entry in entries)

    async def test_encrypted_columns_of_other_records_are_exported_readable(
        self, client: TestClient, fake_wechat: FakeWeChat, services: Services
    ) -> None:
        from wxmember.core.models.mall import ItemKind, MallItem, MallOrder, OrderState

        headers, _ = await cardholder(client, fake_wechat, "o-ship")
        member = await Member.get(openid="o-ship")
        item = await MallItem.create(title="保温杯", kind=ItemKind.PHYSICAL, points_price=500)
        await MallOrder.create(
            member=member,
            item=item,
            idempotency_key="order-1",
            request_hash="h" * 64,
            kind=ItemKind.PHYSICAL,
            item_title="保温杯",
            quantity=1,
            unit_price=500,
            points_total=500,
            limit_month="2024-05",
            state=OrderState.PENDING,
            recipient="张三",
            phone_enc=services.cipher.encrypt("13900001111"),
            address_detail="幸福路 1 号",
        )
        data = await (await client.get("/api/v1/me/export", headers=headers)).json()
        (order,) = data["records"]["mall_orders"]
        assert order["phone"] == "13900001111"
        assert order["address_detail"] == "幸福路 1 号"
        assert "phone_enc" not in order and "request_hash" not in order


class TestDeleteAccount:
    async def test_wipes_personal_data_and_revokes_the_token(
        self, client: TestClient, fake_wechat: FakeWeChat, services: Services
    ) -> None:
        headers, card = await cardholder(client, fake_wechat, "o-del", phone=PHONE)
        await login(client, fake_wechat, "o-del", unionid="u-del")
        member = await Member.get(openid="o-del")
        await client.get("/api/v1/card/image", headers=headers)
        response = await client.delete("/api/v1/me", headers=headers)
        assert response.status == 204
        again = await client.get("/api/v1/me", headers=headers)
        assert again.status == 401
        assert await error_code(again) == "invalid_token"

        wiped = await Member.get(id=member.id)
        assert wiped.deleted_at is not None
        for field in (
            "openid",
            "unionid",
            "official_openid",
            "session_key_enc",
            "name",
            "gender",
            "birthday",
            "birth_month",
            "birth_day",
            "phone_enc",
            "phone_hash",
            "card_no",
            "code_secret",
        ):
            assert getattr(wiped, field) is None, field
        assert wiped.token_version > member.token_version
        assert not await services.redis.exists(f"wxmember:cardface:{member.id}")

        # the same WeChat account starts afresh, and the phone number is free again
        fresh = await login(client, fake_wechat, "o-del")
        assert fresh["member"]["id"] != member.id
        assert fresh["has_card"] is False
        _, reopened = await cardholder(client, fake_wechat, "o-del", phone=PHONE)
        assert reopened["card_no"] != card["card_no"]
        assert reopened["phone"] == "138****5678"

    async def test_ledger_rows_stay_with_the_anonymous_row(
        self, client: TestClient, fake_wechat: FakeWeChat, services: Services
    ) -> None:
        from handlers import points
        from wxmember.core.models.points import PointsEntry

        headers, _ = await cardholder(client, fake_wechat, "o-led")
        member = await Member.get(openid="o-led")
        await points.earn(services, member.id, 30, reason="gift", idempotency_key="gift-del")
        assert (await client.delete("/api/v1/me", headers=headers)).status == 204
        assert await PointsEntry.filter(member_id=member.id).count() == 1
        assert (await Member.get(id=member.id)).points_balance == 30

    async def test_reaches_orders_followers_and_grants(
        self, client: TestClient, services: Services
    ) -> None:
        from handlers.subscriptions.grants import record_grants
        from tests.mall.kit import MallKit
        from wxmember.core.models.bot import Follower
        from wxmember.core.models.mall import MallOrder, OrderState
        from wxmember.core.models.subscriptions import SubscribeGrant

        mall = MallKit(client, services)
        shopper = await mall.shopper(points_balance=500)
        item = await mall.item(points_price=200)
        address = {
            "recipient": "李四",
            "phone": "13900001111",
            "region": "上海",
            "detail": "路 1 号",
        }
        order = await mall.redeemed(shopper, item.id, address=address)
        await Follower.create(openid="oa-del", member_id=shopper.id, subscribed=True)
        await record_grants(services, shopper.id, ["tmpl-a"], source="test")

        assert (await client.delete("/api/v1/me", headers=shopper.headers)).status == 204

        wiped = await MallOrder.get(id=order["id"])
        assert wiped.state == OrderState.CANCELLED
        assert (wiped.recipient, wiped.phone_enc, wiped.address_detail) == (None, None, None)
        assert (await Member.get(id=shopper.id)).points_balance == 500
        follower = await Follower.get(openid="oa-del")
        assert follower.member_id is None and follower.subscribed
        assert not await SubscribeGrant.filter(member_id=shopper.id).exists()


class TestPhonePrivacy:
    @pytest.mark.parametrize(
        ("phone", "country", "masked"),
        [(PHONE, "86", "138****5678"), ("91234567", "852", "+85*****4567")],
    )
    async def test_phone_never_in_logs_and_masked_in_responses(
        self,
        client: TestClient,
        fake_wechat: FakeWeChat,
        log_lines: Any,
        phone: str,
        country: str,
        masked: str,
    ) -> None:
        headers = bearer((await login(client, fake_wechat, "o-priv"))["token"])
        code = fake_wechat.issue_phone_code(phone, country, openid="o-priv")
        bodies = []
        opened = await client.post(
            "/api/v1/card",
            json={"name": "张三", "birthday": "1990-05-17", "phone_code": code},
            headers=headers,
        )
        bodies.append(await opened.text())
        # a second attempt with the same number from another account
        other = bearer((await login(client, fake_wechat, "o-other"))["token"])
        code = fake_wechat.issue_phone_code(phone, country, openid="o-other")
        taken = await client.post(
            "/api/v1/card",
            json={"name": "李四", "birthday": "1990-05-17", "phone_code": code},
            headers=other,
        )
        assert taken.status == 409
        bodies.append(await taken.text())
        relogin = await client.post(
            "/api/v1/session", json={"code": fake_wechat.issue_login_code("o-priv")}
        )
        bodies.append(await relogin.text())
        for path in ("/api/v1/card", "/api/v1/me", "/api/v1/card/code"):
            bodies.append(await (await client.get(path, headers=headers)).text())
        bodies.append(
            await (
                await client.patch("/api/v1/me", json={"name": "张三三"}, headers=headers)
            ).text()
        )
        assert all(phone not in body for body in bodies)
        assert masked in bodies[0]
        logs = log_lines()
        assert logs  # the service did log
        assert phone not in logs
        assert masked not in logs
