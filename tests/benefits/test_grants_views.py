"""Operators see the tier benefits paid: GET /admin/api/v1/benefit-grants."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from handlers.benefits import pay_birthday_gifts, pay_monthly_coupons
from tests.benefits.conftest import BIRTHDAY_POINTS, MemberIn
from tests.conftest import StaffLogin
from wxmember.core.context import Services
from wxmember.core.models import Tier
from wxmember.core.models.coupons import Coupon, CouponTemplate

PATH = "/admin/api/v1/benefit-grants"


class TestListGrants:
    async def test_shows_what_each_member_was_paid_newest_first(
        self,
        client: TestClient,
        services: Services,
        login_as: StaffLogin,
        gold: Tier,
        gift_template: CouponTemplate,
        member_in: MemberIn,
    ) -> None:
        member = await member_in(gold)
        await pay_birthday_gifts(services)
        await pay_monthly_coupons(services)
        headers = await login_as("operator")
        response = await client.get(f"{PATH}?member_id={member.id}", headers=headers)
        assert response.status == 200
        monthly, birthday = (await response.json())["items"]
        assert (monthly["kind"], monthly["occasion"]) == ("monthly_coupons", "2026-05")
        assert (birthday["kind"], birthday["occasion"]) == ("birthday_gift", "2026")
        assert birthday["state"] == "granted" and birthday["tier_name"] == gold.name
        coupon = await Coupon.get(member_id=member.id, template_id=gift_template.id)
        assert birthday["paid"][1] == {
            "points": None,
            "template_id": gift_template.id,
            "points_entry_id": None,
            "coupon_id": coupon.id,
        }
        assert birthday["paid"][0]["points"] == BIRTHDAY_POINTS

    async def test_filters_by_kind_occasion_and_state(
        self,
        client: TestClient,
        services: Services,
        login_as: StaffLogin,
        gold: Tier,
        monthly_template: CouponTemplate,
        member_in: MemberIn,
    ) -> None:
        await member_in(gold)
        await CouponTemplate.filter(id=monthly_template.id).update(stopped=True)
        await pay_birthday_gifts(services)
        await pay_monthly_coupons(services)
        headers = await login_as("operator")
        failed = await client.get(f"{PATH}?state=failed", headers=headers)
        (item,) = (await failed.json())["items"]
        assert item["kind"] == "monthly_coupons"
        assert {f["code"] for f in item["failures"]} == {"template_stopped"}
        by_kind = await client.get(f"{PATH}?kind=birthday_gift&occasion=2026", headers=headers)
        assert [i["kind"] for i in (await by_kind.json())["items"]] == ["birthday_gift"]
        other_year = await client.get(f"{PATH}?occasion=2025", headers=headers)
        assert (await other_year.json())["items"] == []

    async def test_a_malformed_occasion_is_refused(
        self, client: TestClient, login_as: StaffLogin
    ) -> None:
        headers = await login_as("operator")
        response = await client.get(f"{PATH}?occasion=2026-5-1", headers=headers)
        assert response.status == 400

    async def test_members_cannot_list_grants(self, client: TestClient) -> None:
        response = await client.get(PATH)
        assert response.status == 401
