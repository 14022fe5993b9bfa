"""微信会员卡 in the console: the owner uploads the logo, picks a colour, writes the texts and
saves; the card goes to the demo's fake WeChat and waits in review. A title too long for WeChat
is refused next to its field."""

from __future__ import annotations

from playwright.sync_api import FilePayload, Page, expect

from console.i18n import catalogue
from tests.console.conftest import ConsoleErrors, sign_in
from wxmember.core.models.wallet_card import ReviewState
from wxmember.core.wechat.member_card import COLOURS

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


class TestWalletCard:
    def test_the_owner_sets_up_the_card_and_sends_it_for_review(self, page: Page) -> None:
        sign_in(page, "owner")
        page.get_by_role("link", name="微信会员卡").click()
        expect(page.get_by_role("heading", name="微信会员卡", level=1)).to_be_visible()
        page.get_by_label("logo 图片").set_input_files(
            files=[FilePayload(name="logo.png", mimeType="image/png", buffer=PNG)]
        )
        page.get_by_role("button", name="上传 logo").click()
        expect(page.get_by_role("status")).to_have_text("logo 已上传。保存一次即可提交到微信。")
        page.get_by_role("radio", name="深红").check()
        page.get_by_label("卡名", exact=True).fill("茶语会员卡")
        page.get_by_label("使用提醒", exact=True).fill("结账时出示会员码")
        page.get_by_label("使用说明", exact=True).fill("每消费 1 元得 1 积分。")
        page.get_by_label("会员特权", exact=True).fill("会员专享价与生日礼。")
        page.get_by_label("优惠券数量").uncheck()
        page.get_by_role("button", name="保存并提交到微信").click()
        expect(page.get_by_role("status")).to_have_text("已保存。")
        state = page.get_by_role("region", name="微信审核")
        expect(state).to_contain_text("审核中")
        expect(state).to_contain_text("最新设置已提交")
        expect(page.get_by_role("radio", name="深红")).to_be_checked()
        expect(page.get_by_label("卡名", exact=True)).to_have_value("茶语会员卡")
        expect(page.get_by_label("优惠券数量")).not_to_be_checked()

    def test_a_title_too_long_for_wechat_is_refused_at_its_field(
        self, page: Page, console_errors: ConsoleErrors
    ) -> None:
        sign_in(page, "operator")
        page.goto("/console/setup/wallet-card")
        page.get_by_role("radio", name="浅绿").check()
        page.get_by_label("卡名", exact=True).fill("这是一个超过九个汉字的卡名")
        page.get_by_label("使用提醒", exact=True).fill("出示会员码")
        page.get_by_label("使用说明", exact=True).fill("说明")
        page.get_by_label("会员特权", exact=True).fill("特权")
        page.get_by_role("button", name="保存并提交到微信").click()
        title = page.get_by_label("卡名", exact=True)
        expect(title).to_have_attribute("aria-invalid", "true")
        expect(page.locator("#e-title")).to_have_text(
            "卡名必填，最多 9 个汉字（或 18 个字母数字）。"
        )
        console_errors.expect(400)

    def test_the_catalogue_names_every_colour_state_and_refusal(self) -> None:
        texts = catalogue()
        keys = [f"wallet_card.colours.{name}" for name in COLOURS]
        keys += [f"wallet_card.review.{state.value}" for state in ReviewState]
        fields = ("color", "title", "notice", "description", "prerogative", "logo")
        keys += [f"wallet_card.errors.invalid_{name}" for name in fields]
        codes = (
            "logo_too_large",
            "wallet_card_not_defined",
            "wallet_card_logo_missing",
            "wallet_card_sync_in_progress",
            "wechat_card_refused",
            "wechat_unavailable",
            "wechat_rate_limited",
        )
        keys += [f"errors.{code}" for code in codes]
        assert [key for key in keys if key not in texts] == []
