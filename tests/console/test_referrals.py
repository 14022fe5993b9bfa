"""Referrals in the console: the settings the demo saved, changed; a referral voided.

The demo switches referrals on and records four invitations, one of them rewarded at its first
purchase (wxmember/demo/referrals.py).
"""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from console.i18n import catalogue
from tests.console.conftest import sign_in
from wxmember.core.models.referrals import ReferralStatus, RewardMoment, RewardState


class TestReferrals:
    def test_the_owner_changes_what_a_referral_gives(self, page: Page) -> None:
        sign_in(page, "owner")
        page.get_by_role("link", name="邀请有礼").click()
        expect(page.get_by_role("heading", name="邀请有礼设置", level=1)).to_be_visible()
        expect(page.get_by_label("开启邀请有礼")).to_be_checked()
        expect(page.get_by_label("奖励发放时机")).to_have_value("first_purchase")
        page.get_by_label("邀请人得积分", exact=True).fill("300")
        page.get_by_role("button", name="保存设置").click()
        expect(page.get_by_role("status")).to_have_text("已保存。")
        expect(page.get_by_label("邀请人得积分", exact=True)).to_have_value("300")

    def test_an_operator_sees_the_leaderboard_and_voids_a_referral(self, page: Page) -> None:
        sign_in(page, "operator")
        page.get_by_role("link", name="邀请排行").click()
        leaders = page.get_by_role("region", name="本月邀请排行")
        first = leaders.get_by_role("row").nth(1)
        expect(first.get_by_role("cell").nth(1)).to_have_text("3")
        waiting = page.get_by_role("row").filter(has_text="等待首次消费").first
        waiting.get_by_label(re.compile("^作废原因")).fill("同一设备批量注册")
        waiting.get_by_role("button", name="作废").click()
        expect(page.get_by_role("status")).to_have_text("已作废，未发放的奖励已取消。")
        voided = page.get_by_role("row").filter(has_text="同一设备批量注册")
        expect(voided).to_contain_text("已作废")
        expect(voided).to_contain_text("已取消")

    def test_the_catalogue_covers_the_codes_of_referrals(self) -> None:
        texts = catalogue()
        codes = (
            "invalid_referral_code",
            "self_referral",
            "referral_void",
            "referral_not_found",
            "invalid_coupon_template",
            "reason_required",
        )
        assert [code for code in codes if f"errors.{code}" not in texts] == []
        for group, kinds in (
            ("moments", RewardMoment),
            ("statuses", ReferralStatus),
            ("reward_states", RewardState),
        ):
            keys = [f"referrals.{group}.{kind.value}" for kind in kinds]
            assert [key for key in keys if key not in texts] == []
