"""Staff: the referral settings, the list and leaderboard, voiding a fraudulent referral."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from tests.referrals.kit import coupon_template, invitee, referral_settings, referrer
from tests.support.http import error_code
from wxmember.core.context import Services
from wxmember.core.fake_wechat import FakeWeChat
from wxmember.core.models import AuditEntry
from wxmember.core.models.points import PointsEntry
from wxmember.core.models.referrals import Referral, ReferralReward

SETTINGS = "/admin/api/v1/referral-settings"
LIST = "/admin/api/v1/referrals"

SAVED = {
    "enabled": True,
    "reward_on": "first_purchase",
    "referrer_points": 200,
    "invitee_points": 80,
    "monthly_limit": 5,
}


class TestSettings:
    async def test_off_until_saved_then_saved_whole_and_audited(
        self, client: TestClient, login_as: Any
    ) -> None:
        owner = await login_as("owner", "olivia")
        before = await (await client.get(SETTINGS, headers=owner)).json()
        assert (before["enabled"], before["version"]) == (False, 0)
        template = await coupon_template()
        body = SAVED | {"invitee_coupon_template_id": template.id}
        response = await client.put(SETTINGS, json=body, headers=owner)
        assert response.status == 200
        saved = await response.json()
        assert (saved["version"], saved["invitee_coupon_template_id"]) == (1, template.id)
        assert await (await client.get(SETTINGS, headers=owner)).json() == saved
        audit = await AuditEntry.get(action="referral_settings.replace")
        assert audit.after is not None
        assert (audit.actor, audit.before, audit.after["referrer_points"]) == ("olivia", None, 200)

    async def test_a_coupon_that_cannot_be_given_is_refused(
        self, client: TestClient, login_as: Any
    ) -> None:
        owner = await login_as("owner")
        sold_out = await coupon_template(stock=0)
        for template_id in (sold_out.id, 999_999):
            body = SAVED | {"referrer_coupon_template_id": template_id}
            response = await client.put(SETTINGS, json=body, headers=owner)
            assert (response.status, await error_code(response)) == (
                400,
                "invalid_coupon_template",
            )
        assert await AuditEntry.filter(action="referral_settings.replace").count() == 0

    async def test_bad_values_are_400_and_cashiers_are_403(
        self, client: TestClient, login_as: Any
    ) -> None:
        owner = await login_as("owner")
        for bad in ({"monthly_limit": 0}, {"reward_on": "never"}, {"invitee_points": -1}):
            response = await client.put(SETTINGS, json=SAVED | bad, headers=owner)
            assert response.status == 400
        cashier = await login_as("cashier")
        response = await client.put(SETTINGS, json=SAVED, headers=cashier)
        assert (response.status, await error_code(response)) == (403, "role_not_allowed")


class TestListAndLeaderboard:
    async def test_lists_referrals_with_masked_phones_and_ranks_referrers(
        self, client: TestClient, fake_wechat: FakeWeChat, services: Services, login_as: Any
    ) -> None:
        await referral_settings()
        busy, busy_code = await referrer(services, name="甲")
        quiet, quiet_code = await referrer(services, name="乙")
        for n in range(3):
            await invitee(client, fake_wechat, f"o-b{n}", busy_code)
        await invitee(client, fake_wechat, "o-q", quiet_code)
        owner = await login_as("owner")

        page = await (await client.get(f"{LIST}?limit=3", headers=owner)).json()
        assert len(page["items"]) == 3 and page["next_cursor"]
        rest = await (
            await client.get(f"{LIST}?cursor={page['next_cursor']}", headers=owner)
        ).json()
        assert len(rest["items"]) == 1 and rest["next_cursor"] is None
        first = page["items"][0]
        assert (first["referrer"]["name"], first["status"]) == ("乙", "rewarded")
        assert {reward["side"] for reward in first["rewards"]} == {"referrer", "invitee"}
        mine = await (await client.get(f"{LIST}?referrer_id={busy.id}", headers=owner)).json()
        assert len(mine["items"]) == 3

        board = await (await client.get(f"{LIST}/leaderboard", headers=owner)).json()
        ranked = [(row["rank"], row["referrer"]["id"], row["referrals"]) for row in board["rows"]]
        assert ranked == [(1, busy.id, 3), (2, quiet.id, 1)]
        empty = await (await client.get(f"{LIST}/leaderboard?month=2020-01", headers=owner)).json()
        assert empty == {"month": "2020-01-01", "rows": []}


class TestVoid:
    async def test_voiding_cancels_unpaid_rewards_and_the_purchase_then_pays_nothing(
        self, client: TestClient, fake_wechat: FakeWeChat, services: Services, login_as: Any
    ) -> None:
        await referral_settings(reward_on="first_purchase")
        friend, code = await referrer(services)
        newcomer = await invitee(client, fake_wechat, "o-new", code)
        referral = await Referral.get(invitee_id=newcomer.id)
        owner = await login_as("owner", "olivia")
        response = await client.post(
            f"{LIST}/{referral.id}/void", json={"reason": "同一设备批量注册"}, headers=owner
        )
        assert response.status == 200, await response.text()
        shown = await response.json()
        assert (shown["status"], shown["voided_by"], shown["void_reason"]) == (
            "void",
            "olivia",
            "同一设备批量注册",
        )
        assert {reward["state"] for reward in shown["rewards"]} == {"cancelled"}
        audit = await AuditEntry.get(action="referral.void")
        assert audit.before is not None and audit.after is not None
        assert (audit.before["status"], audit.after["rewards_cancelled"]) == ("pending", 2)

        cashier = await login_as("cashier")
        body = {"member_id": newcomer.id, "order_no": "NO-1", "amount_fen": 5000}
        assert (
            await client.post("/admin/api/v1/pos/purchases", json=body, headers=cashier)
        ).status == 201
        assert await PointsEntry.filter(reason="referral").count() == 0
        assert friend.id != newcomer.id

    async def test_paid_rewards_stay_and_a_second_void_is_409(
        self, client: TestClient, fake_wechat: FakeWeChat, services: Services, login_as: Any
    ) -> None:
        await referral_settings()
        friend, code = await referrer(services)
        newcomer = await invitee(client, fake_wechat, "o-new", code)
        referral = await Referral.get(invitee_id=newcomer.id)
        owner = await login_as("owner")
        url = f"{LIST}/{referral.id}/void"
        assert (await client.post(url, json={"reason": "刷单"}, headers=owner)).status == 200
        states = await ReferralReward.filter(referral_id=referral.id).values_list(
            "state", flat=True
        )
        assert set(states) == {"paid"}
        assert await PointsEntry.filter(reason="referral").count() == 2
        again = await client.post(url, json={"reason": "刷单"}, headers=owner)
        assert (again.status, await error_code(again)) == (409, "referral_void")
        assert await AuditEntry.filter(action="referral.void").count() == 1

    async def test_unknown_referral_is_404_and_a_reason_is_required(
        self, client: TestClient, login_as: Any
    ) -> None:
        owner = await login_as("owner")
        response = await client.post(f"{LIST}/999/void", json={"reason": "x"}, headers=owner)
        assert (response.status, await error_code(response)) == (404, "referral_not_found")
        response = await client.post(f"{LIST}/999/void", json={"reason": " "}, headers=owner)
        assert (response.status, await error_code(response)) == (400, "invalid_reason")
