"""`GET /api/v1/referrals`: the member's code and share path, invitations masked, rewards."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from handlers.referrals import mask_name
from tests.factories import auth_headers, create_member
from tests.referrals.kit import coupon_template, invitee, referral_settings
from tests.support.http import error_code
from wxmember.core.context import Services
from wxmember.core.fake_wechat import FakeWeChat

URL = "/api/v1/referrals"


class TestMyReferrals:
    async def test_shows_the_code_path_offer_invitations_and_rewards(
        self, client: TestClient, fake_wechat: FakeWeChat, services: Services
    ) -> None:
        template = await coupon_template("好友券")
        await referral_settings(referrer_coupon_template_id=template.id)
        friend = await create_member(name="王五")
        headers = auth_headers(services, friend)
        first = await (await client.get(URL, headers=headers)).json()
        code = first["code"]
        assert first["path"] == f"pages/card/open?referral_code={code}"
        assert first["invitations"] == [] and first["rewards"] == []
        assert first["offer"]["referrer"] == {
            "points": 100,
            "coupon_template_id": template.id,
            "coupon_title": "好友券",
        }
        await invitee(client, fake_wechat, "o-new", code, name="李小龙")

        response = await client.get(URL, headers=headers)
        assert response.status == 200
        body = await response.json()
        assert body["code"] == code  # the same code every time
        assert body["invited_by_me"] == 1
        [invitation] = body["invitations"]
        assert (invitation["invitee_name"], invitation["status"]) == ("李**", "rewarded")
        kinds = sorted((reward["kind"], reward["state"]) for reward in body["rewards"])
        assert kinds == [("coupon", "paid"), ("points", "paid")]

    async def test_the_invitee_sees_their_own_rewards(
        self, client: TestClient, fake_wechat: FakeWeChat, services: Services
    ) -> None:
        await referral_settings()
        friend = await create_member()
        code = (await (await client.get(URL, headers=auth_headers(services, friend))).json())[
            "code"
        ]
        newcomer = await invitee(client, fake_wechat, "o-new", code)
        body = await (await client.get(URL, headers=auth_headers(services, newcomer))).json()
        assert [(r["side"], r["points"]) for r in body["rewards"]] == [("invitee", 50)]
        assert body["invitations"] == []

    async def test_no_card_yet_is_409_card_required(
        self, client: TestClient, services: Services
    ) -> None:
        member = await create_member(with_card=False)
        response = await client.get(URL, headers=auth_headers(services, member))
        assert (response.status, await error_code(response)) == (409, "card_required")

    async def test_codes_differ_between_members_and_reveal_nothing(
        self, client: TestClient, services: Services
    ) -> None:
        codes = set()
        for _ in range(5):
            member = await create_member()
            body = await (await client.get(URL, headers=auth_headers(services, member))).json()
            assert len(body["code"]) == 10 and body["code"].isalnum()
            assert member.card_no is not None and body["code"] not in member.card_no
            codes.add(body["code"])
        assert len(codes) == 5

    def test_names_are_masked_after_their_first_character(self) -> None:
        assert [mask_name(name) for name in ("李", "李四", "欧阳娜娜", None)] == [
            "李*",
            "李*",
            "欧***",
            "*",
        ]
