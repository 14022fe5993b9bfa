"""The member card: opening it, showing it, its image and the dynamic member code."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from datetime import UTC, date, datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from handlers.members.cards import find_member_for_pos, open_card
from handlers.members.member_code import resolve_member_code
from handlers.members.numbers import is_card_number
from tests.members.flows import ENTRY_COLOR, cardholder, login_headers, seed_tiers
from tests.support.http import error_code
from wxmember.core.clock import FrozenClock
from wxmember.core.context import Services
from wxmember.core.fake_wechat import FakeWeChat
from wxmember.core.models import Member

PHONE = "13812345678"
# 2024-06-01 01:00 in Shanghai, still May 31st in UTC
MORNING_OF_JUNE_1 = datetime(2024, 5, 31, 17, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
async def tiers(client: TestClient) -> None:
    await seed_tiers()


async def _open(client: TestClient, headers: dict[str, str], body: Any) -> tuple[int, Any]:
    response = await client.post("/api/v1/card", json=body, headers=headers)
    return response.status, await response.json()


class TestOpenCard:
    async def test_opens_a_card_in_the_entry_tier(
        self, client: TestClient, fake_wechat: FakeWeChat, services: Services
    ) -> None:
        headers, card = await cardholder(
            client, fake_wechat, "o-amy", phone=PHONE, name="  李小龙 ", gender="male"
        )
        assert is_card_number(card["card_no"])
        assert card["tier"] == {
            "id": card["tier"]["id"],
            "name": "普通会员",
            "level": 0,
            "color": ENTRY_COLOR,
        }
        assert card["name"] == "李小龙"
        assert card["gender"] == "male"
        assert card["birthday"] == "1990-05-17"
        assert card["phone"] == "138****5678"
        assert card["points"] == 0
        member = await Member.get(openid="o-amy")
        assert member.card_no == card["card_no"]
        assert (member.birth_month, member.birth_day) == (5, 17)
        assert member.code_secret and len(member.code_secret) == 40
        assert member.card_opened_at is not None
        assert PHONE not in (member.phone_enc or "")
        assert member.phone_enc is not None
        assert services.cipher.decrypt(member.phone_enc) == PHONE
        assert member.phone_hash == services.cipher.lookup_hash(PHONE)
        login = await client.post(
            "/api/v1/session", json={"code": fake_wechat.issue_login_code("o-amy")}
        )
        assert (await login.json())["has_card"] is True

    @pytest.mark.parametrize("gender", ["male", "female", "undisclosed"])
    async def test_every_gender_is_accepted(
        self, client: TestClient, fake_wechat: FakeWeChat, gender: str
    ) -> None:
        _, card = await cardholder(client, fake_wechat, gender=gender)
        assert card["gender"] == gender
        assert (await Member.get(openid="o-member-1")).gender == gender

    async def test_phone_is_optional(self, client: TestClient, fake_wechat: FakeWeChat) -> None:
        _, card = await cardholder(client, fake_wechat, "o-ben")
        assert card["phone"] is None
        assert card["gender"] is None

    @pytest.mark.parametrize(
        ("change", "code"),
        [
            ({"name": ""}, "invalid_name"),
            ({"name": "   "}, "invalid_name"),
            ({"name": "名" * 33}, "invalid_name"),
            ({"name": "x" * 300}, "invalid_name"),
            ({"name": "张\x00三"}, "invalid_name"),
            ({"name": "张\n三"}, "invalid_name"),
            ({"name": "abc\u202edef"}, "invalid_name"),
            ({"name": "a\u200bb"}, "invalid_name"),
            ({"name": 42}, "invalid_name"),
            ({"name": None}, "invalid_name"),
            ({"birthday": "1990-02-30"}, "invalid_birthday"),
            ({"birthday": "1990/05/17"}, "invalid_birthday"),
            ({"birthday": "1990-5-17"}, "invalid_birthday"),
            ({"birthday": "1990-05-17T00:00:00"}, "invalid_birthday"),
            ({"birthday": 643420800}, "invalid_birthday"),
            ({"birthday": "2999-01-01"}, "invalid_birthday"),
            ({"birthday": "1850-01-01"}, "invalid_birthday"),
            ({"birthday": ""}, "invalid_birthday"),
            ({"gender": "other"}, "invalid_gender"),
            ({"gender": 1}, "invalid_gender"),
            ({"phone_code": ""}, "invalid_phone_code"),
            ({"phone_code": "has space"}, "invalid_phone_code"),
            ({"phone_code": "x" * 129}, "invalid_phone_code"),
            ({"phone_code": "never-issued"}, "invalid_phone_code"),
            ({"card_no": "8888888888888888"}, "invalid_card_no"),
        ],
    )
    async def test_every_field_is_validated(
        self, client: TestClient, fake_wechat: FakeWeChat, change: dict[str, Any], code: str
    ) -> None:
        headers = await login_headers(client, fake_wechat, "o-cat")
        body = {"name": "张三", "birthday": "1990-05-17", **change}
        status, answer = await _open(client, headers, body)
        assert status == 400
        assert answer["error"]["code"] == code
        assert (await Member.get(openid="o-cat")).card_no is None

    @pytest.mark.parametrize("missing", ["name", "birthday"])
    async def test_required_fields(
        self, client: TestClient, fake_wechat: FakeWeChat, missing: str
    ) -> None:
        headers = await login_headers(client, fake_wechat)
        body = {"name": "张三", "birthday": "1990-05-17"}
        del body[missing]
        status, answer = await _open(client, headers, body)
        assert (status, answer["error"]["code"]) == (400, f"invalid_{missing}")

    @pytest.mark.parametrize(
        ("birthday", "status"),
        [
            ("2024-06-01", 201),  # today in Shanghai, although still May 31st in UTC
            ("2024-06-02", 400),
            ("1904-06-01", 201),  # 120 today
            ("1904-05-31", 201),
            ("1904-05-30", 201),
            ("1903-06-02", 201),  # 120, turning 121 tomorrow
            ("1903-06-01", 400),  # 121 today
        ],
    )
    async def test_age_is_0_to_120_in_the_brand_time_zone(
        self,
        client: TestClient,
        fake_wechat: FakeWeChat,
        services: Services,
        birthday: str,
        status: int,
    ) -> None:
        services.clock = FrozenClock(MORNING_OF_JUNE_1)
        headers = await login_headers(client, fake_wechat)
        got, _ = await _open(client, headers, {"name": "王五", "birthday": birthday})
        assert got == status

    async def test_second_opening_is_409_with_the_card(
        self, client: TestClient, fake_wechat: FakeWeChat
    ) -> None:
        headers, card = await cardholder(client, fake_wechat)
        status, answer = await _open(client, headers, {"name": "别人", "birthday": "2000-01-01"})
        assert status == 409
        assert answer["error"]["code"] == "card_exists"
        assert answer["error"]["details"]["card"]["card_no"] == card["card_no"]
        assert answer["error"]["details"]["card"]["name"] == "张三"

    async def test_phone_of_another_card_is_409(
        self, client: TestClient, fake_wechat: FakeWeChat
    ) -> None:
        await cardholder(client, fake_wechat, "o-first", phone=PHONE)
        headers = await login_headers(client, fake_wechat, "o-second")
        code = fake_wechat.issue_phone_code(PHONE, openid="o-second")
        status, answer = await _open(
            client, headers, {"name": "赵六", "birthday": "1990-01-01", "phone_code": code}
        )
        assert status == 409
        assert answer["error"]["code"] == "phone_taken"
        assert (await Member.get(openid="o-second")).card_no is None

    async def test_phone_code_of_another_wechat_user_is_refused(
        self, client: TestClient, fake_wechat: FakeWeChat
    ) -> None:
        headers = await login_headers(client, fake_wechat, "o-me")
        code = fake_wechat.issue_phone_code(PHONE, openid="o-someone-else")
        status, answer = await _open(
            client, headers, {"name": "赵六", "birthday": "1990-01-01", "phone_code": code}
        )
        assert (status, answer["error"]["code"]) == (400, "invalid_phone_code")

    async def test_wechat_down_when_resolving_the_phone_is_503(
        self, client: TestClient, fake_wechat: FakeWeChat
    ) -> None:
        headers = await login_headers(client, fake_wechat)
        fake_wechat.inject("/wxa/business/getuserphonenumber", status=500, times=2)
        code = fake_wechat.issue_phone_code(PHONE)
        status, answer = await _open(
            client, headers, {"name": "赵六", "birthday": "1990-01-01", "phone_code": code}
        )
        assert (status, answer["error"]["code"]) == (503, "wechat_unavailable")

    async def test_non_mainland_phone_keeps_its_country_code(
        self, client: TestClient, fake_wechat: FakeWeChat, services: Services
    ) -> None:
        _, card = await cardholder(
            client, fake_wechat, "o-hk", phone="91234567", country_code="852"
        )
        assert card["phone"] == "+85*****4567"
        member = await Member.get(openid="o-hk")
        assert member.phone_enc is not None
        assert services.cipher.decrypt(member.phone_enc) == "+85291234567"

    async def test_twenty_concurrent_openings_issue_one_card(
        self, client: TestClient, fake_wechat: FakeWeChat
    ) -> None:
        headers = await login_headers(client, fake_wechat, "o-rush")
        bodies = [{"name": f"会员{n}", "birthday": "1990-05-17"} for n in range(20)]
        results = await asyncio.gather(*(_open(client, headers, body) for body in bodies))
        statuses = Counter(status for status, _ in results)
        assert statuses == {201: 1, 409: 19}
        winner = next(body for status, body in results if status == 201)
        for status, body in results:
            if status == 409:
                assert body["error"]["code"] == "card_exists"
                assert body["error"]["details"]["card"]["card_no"] == winner["card_no"]
        member = await Member.get(openid="o-rush")
        assert member.card_no == winner["card_no"]
        assert member.name == winner["name"]
        assert await Member.filter(card_no__isnull=False).count() == 1

    async def test_no_tier_configured_is_503(
        self, client: TestClient, fake_wechat: FakeWeChat
    ) -> None:
        from wxmember.core.models import Tier

        await Tier.all().delete()
        headers = await login_headers(client, fake_wechat)
        status, answer = await _open(client, headers, {"name": "张三", "birthday": "1990-05-17"})
        assert (status, answer["error"]["code"]) == (503, "no_tier_configured")

    async def test_card_number_collision_draws_again(
        self, client: TestClient, fake_wechat: FakeWeChat, services: Services
    ) -> None:
        _, taken = await cardholder(client, fake_wechat, "o-old")
        await login_headers(client, fake_wechat, "o-new")
        member = await Member.get(openid="o-new")
        fresh = "4111111111111111"
        draws = iter([taken["card_no"], fresh])
        opened = await open_card(
            services, member, name="钱七", birthday=date(1991, 1, 1), numbers=lambda: next(draws)
        )
        assert opened.card_no == fresh

    async def test_card_number_space_exhausted_is_503(
        self, client: TestClient, fake_wechat: FakeWeChat, services: Services
    ) -> None:
        _, taken = await cardholder(client, fake_wechat, "o-old")
        await login_headers(client, fake_wechat, "o-new")
        member = await Member.get(openid="o-new")
        from wxmember.core.errors import UpstreamUnavailable

        with pytest.raises(UpstreamUnavailable) as refused:
            await open_card(
                services,
                member,
                name="钱七",
                birthday=date(1991, 1, 1),
                numbers=lambda: taken["card_no"],
            )
        assert refused.value.code == "card_number_unavailable"
        assert (await Member.get(id=member.id)).card_no is None


class TestWelcomeGift:
    @pytest.fixture
    def settings(self, settings: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        settings["points"] = {"welcome_points": 100}
        return settings

    async def test_welcome_points_come_with_the_card(
        self, client: TestClient, fake_wechat: FakeWeChat
    ) -> None:
        from wxmember.core.models.points import PointsEntry

        headers, card = await cardholder(client, fake_wechat, "o-gift")
        assert card["points"] == 100
        member = await Member.get(openid="o-gift")
        entries = await PointsEntry.filter(member_id=member.id)
        assert [(entry.amount, entry.reason) for entry in entries] == [(100, "welcome")]
        again, _ = await _open(client, headers, {"name": "张三", "birthday": "1990-05-17"})
        assert again == 409
        assert await PointsEntry.filter(member_id=member.id).count() == 1


class TestShowCard:
    async def test_no_card_yet_is_409_card_required(
        self, client: TestClient, fake_wechat: FakeWeChat
    ) -> None:
        headers = await login_headers(client, fake_wechat)
        for path in ("/api/v1/card", "/api/v1/card/image", "/api/v1/card/code"):
            response = await client.get(path, headers=headers)
            assert response.status == 409, path
            assert await error_code(response) == "card_required"

    async def test_shows_tier_points_growth_and_masked_phone(
        self, client: TestClient, fake_wechat: FakeWeChat
    ) -> None:
        headers, opened = await cardholder(client, fake_wechat, phone=PHONE)
        await Member.filter(card_no=opened["card_no"]).update(points_balance=320, growth_total=75)
        response = await client.get("/api/v1/card", headers=headers)
        assert response.status == 200
        card = await response.json()
        assert card["card_no"] == opened["card_no"]
        assert (card["points"], card["growth"]) == (320, 75)
        assert card["tier"]["name"] == "普通会员"
        assert card["phone"] == "138****5678"
        assert PHONE not in await response.text()

    async def test_needs_a_session(self, client: TestClient) -> None:
        assert (await client.get("/api/v1/card")).status == 401


class TestMemberCode:
    async def test_valid_now_and_one_step_later_then_refused(
        self, client: TestClient, fake_wechat: FakeWeChat, services: Services
    ) -> None:
        clock = FrozenClock(datetime(2024, 5, 1, 2, 0, 30, tzinfo=UTC))
        services.clock = clock
        headers, card = await cardholder(client, fake_wechat)
        response = await client.get("/api/v1/card/code", headers=headers)
        assert response.status == 200
        assert response.headers["Cache-Control"] == "no-store"
        body = await response.json()
        code = body["code"]
        assert re.fullmatch(r"WXM[0-9A-Z]+\d{8}", code)
        assert body["refresh_at"] == "2024-05-01T02:01:00+00:00"
        assert body["expires_at"] == "2024-05-01T02:02:00+00:00"
        assert body["period_seconds"] == 60
        assert body["qr_svg"].startswith("<svg")

        found = await resolve_member_code(services, code)
        assert found is not None and found.card_no == card["card_no"]
        assert (await find_member_for_pos(services, code)).card_no == card["card_no"]
        clock.advance(seconds=60)
        found = await resolve_member_code(services, code)
        assert found is not None and found.card_no == card["card_no"]
        newer = (await (await client.get("/api/v1/card/code", headers=headers)).json())["code"]
        assert newer != code
        clock.advance(seconds=60)
        assert await resolve_member_code(services, code) is None
        found = await resolve_member_code(services, newer)
        assert found is not None and found.card_no == card["card_no"]
