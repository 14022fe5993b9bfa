"""营销活动 in the console, as an operator runs one: drafting a campaign for a saved segment with a
coupon and a message written key by key, its preview with the rendered message, launching it,
watching the demo's scheduler reach its members, the results and the members table, the
controls each state offers, a draft refused beside its fields, and the cashier kept out.

The demo service is shared by the whole session: names are the test's own.
"""

from __future__ import annotations

import re
import time

from playwright.sync_api import Dialog, Page, expect

from console.i18n import catalogue
from handlers.campaigns.message import CATALOGUE
from tests.console.conftest import ConsoleErrors
from tests.console.test_reminders import (
    htmx_quiet,
    key,
    list_keys,
    open_as,
    unique,
    write_fixed_text,
)
from wxmember.core.models.campaigns import CampaignState
from wxmember.core.models.reminders import DeliveryState

SEGMENT_TIER = "银卡会员"  # a handful of the demo's members
TEMPLATE = "demo-oa-comeback"  # registered on the demo's fake WeChat


def accept_dialogs(page: Page) -> None:
    def accept(dialog: Dialog) -> None:
        dialog.accept()

    page.on("dialog", accept)


def save_segment(page: Page, name: str) -> None:
    """A saved segment of the demo's silver-tier members."""
    page.goto("/console/segments/new")
    page.get_by_role("group", name="会员等级").get_by_label(SEGMENT_TIER).check()
    page.get_by_label("分群名称").fill(name)
    page.get_by_role("button", name="保存分群").click()
    expect(page.get_by_role("status").first).to_have_text("分群已保存。")


def draft_campaign(page: Page, name: str, segment: str, *, message: bool = True) -> None:
    """Draft a campaign for a segment: a coupon, and a message naming the member and coupon."""
    page.goto("/console/campaigns/new")
    page.get_by_label("活动名称").fill(name)
    page.get_by_label("会员分群").select_option(label=segment)
    coupons = page.get_by_label("赠送优惠券")
    coupons.select_option(coupons.locator("option", has_text="9折券").get_attribute("value"))
    htmx_quiet(page)
    if message:
        page.get_by_label("发送消息").select_option(label="公众号模板消息")
        expect(page.get_by_label("模板 ID")).to_be_visible()
        htmx_quiet(page)
        page.get_by_label("模板 ID").fill(TEMPLATE)
        page.get_by_label("点击后打开的小程序页面").fill("pages/coupons/index")
        list_keys(page, "first keyword1 keyword2 remark")  # the template's keys, all of them
        key(page, "first").get_by_label("内容").select_option(label="会员姓名")
        key(page, "keyword1").get_by_label("内容").select_option(label="优惠券名称（需赠送优惠券）")
        key(page, "keyword2").get_by_label("内容").select_option(
            label="优惠券最后可用日（需赠送优惠券）"
        )
        key(page, "remark").get_by_label("内容").select_option(label="固定文字…")
        write_fixed_text(page, "remark", "本周到店可用")
    page.get_by_role("button", name="保存草稿").click()
    expect(page.get_by_role("status")).to_have_text("草稿已保存。")
    expect(page.get_by_role("heading", level=1)).to_have_text(name)


def new_draft(page: Page, prefix: str, *, message: bool = True) -> str:
    segment, name = unique("银卡"), unique(prefix)
    save_segment(page, segment)
    draft_campaign(page, name, segment, message=message)
    return name


def launch_now(page: Page) -> None:
    accept_dialogs(page)
    page.get_by_label("立即开始").check()
    page.get_by_role("button", name="发布活动").click()
    expect(page.get_by_role("status")).to_have_text("活动已发布。")


class TestRunACampaign:
    def test_an_operator_drafts_previews_launches_and_reads_the_results(self, page: Page) -> None:
        open_as(page, "operator", "/console/campaigns")
        expect(page.get_by_role("heading", level=1)).to_have_text("营销活动")
        name = new_draft(page, "银卡回馈")

        definition = page.get_by_role("region", name="活动内容")
        expect(definition).to_contain_text("9折券")
        expect(definition).to_contain_text("公众号模板消息")
        preview = page.get_by_role("region", name="预览")
        counts = preview.get_by_label("预览人数")
        expect(counts).to_contain_text(re.compile(r"分群会员\s*[1-9]"))
        messages = preview.get_by_role("table", name="消息示例")
        expect(messages.get_by_role("row").nth(1)).to_contain_text("本周到店可用")
        expect(messages.get_by_role("row").nth(1)).to_contain_text("9折券")

        launch_now(page)
        expect(page.get_by_role("region", name="预览")).to_have_count(0)
        controls = page.get_by_role("region", name="活动控制")
        expect(controls.get_by_role("button", name="暂停")).to_be_visible()
        expect(controls.get_by_role("button", name="取消活动")).to_be_visible()
        expect(controls.get_by_role("button", name="继续")).to_have_count(0)

        # the demo's scheduler starts due campaigns and reaches their members every 15 seconds
        progress = page.get_by_role("region", name="进度")
        deadline = time.monotonic() + 90
        while "已结束" not in page.get_by_role("region", name="活动内容").inner_text():
            assert time.monotonic() < deadline, "the campaign did not finish"
            time.sleep(3)
            page.reload()
        expect(page.get_by_role("region", name="活动控制")).to_have_count(0)
        expect(progress).to_contain_text(re.compile(r"活动组会员\s*[1-9]"))
        expect(progress).to_contain_text(re.compile(r"已完成\s*[1-9]"))  # messages delivered

        results = page.get_by_role("region", name="效果")
        table = results.get_by_role("table", name="活动组与对照组的消费对比")
        for days in (7, 14, 30):
            expect(table.get_by_role("rowheader", name=re.compile(f"^{days} 天"))).to_be_visible()
        expect(table).to_contain_text("截至目前")
        expect(table.get_by_role("rowheader", name="差异").first).to_be_visible()
        expect(table).to_contain_text("95% 区间")
        results.get_by_text("计算方法").click()
        expect(results).to_contain_text("Welch")
        with page.expect_download() as download:
            results.get_by_role("link", name="下载会员明细 CSV").click()
        lines = download.value.path().read_text(encoding="utf-8-sig").splitlines()
        assert lines[0].startswith("card_no,group,state,reason,coupon_id")
        assert len(lines) > 1

        members = page.get_by_role("region", name="活动会员")
        rows = members.get_by_role("table", name="活动会员列表").get_by_role("row")
        expect(rows.nth(1)).to_be_visible()
        members.get_by_label("分组").select_option(label="活动组")
        members.get_by_role("button", name="筛选").click()
        expect(page.get_by_role("region", name="活动会员").get_by_label("分组")).to_have_value(
            "treated"
        )
        table_rows = page.get_by_role("table", name="活动会员列表").get_by_role("row")
        expect(table_rows.nth(1)).to_contain_text("活动组")
        expect(page.get_by_role("table", name="活动会员列表")).not_to_contain_text("对照组")
        expect(table_rows.nth(1)).to_contain_text("优惠券")

        page.get_by_role("link", name="返回营销活动").click()
        row = page.get_by_role("row").filter(has=page.get_by_role("link", name=name))
        expect(row).to_contain_text("已结束")
        expect(row).to_contain_text("优惠券：9折券")
        page.get_by_label("状态").select_option(label="已结束")
        page.get_by_role("button", name="筛选").click()
        expect(page.get_by_role("link", name=name)).to_be_visible()
        page.get_by_label("状态").select_option(label="草稿")
        page.get_by_role("button", name="筛选").click()
        expect(page.get_by_role("link", name=name)).to_have_count(0)


class TestControlsByState:
    def test_a_campaign_scheduled_later_is_paused_resumed_and_cancelled(self, page: Page) -> None:
        open_as(page, "operator", "/console/campaigns")
        new_draft(page, "定时活动", message=False)
        accept_dialogs(page)
        page.get_by_label("定时开始").check()
        page.get_by_label("开始于（品牌所在时区）").fill("2099-01-01T10:00")
        page.get_by_role("button", name="发布活动").click()
        expect(page.get_by_role("status")).to_have_text("活动已发布。")
        definition = page.get_by_role("region", name="活动内容")
        expect(definition).to_contain_text("待开始")
        expect(definition).to_contain_text("2099-01-01 10:00")

        controls = page.get_by_role("region", name="活动控制")
        controls.get_by_role("button", name="暂停").click()
        expect(page.get_by_role("status")).to_have_text("活动已暂停。")
        expect(controls.get_by_role("button", name="暂停")).to_have_count(0)
        controls.get_by_role("button", name="继续").click()
        expect(page.get_by_role("status")).to_have_text("活动已继续。")
        expect(definition).to_contain_text("待开始")

        controls.get_by_role("button", name="取消活动").click()
        expect(page.get_by_role("status")).to_have_text("活动已取消。")
        expect(definition).to_contain_text("已取消")
        expect(page.get_by_role("region", name="活动控制")).to_have_count(0)

    def test_a_draft_is_edited_and_deleted(self, page: Page) -> None:
        open_as(page, "operator", "/console/campaigns")
        name = new_draft(page, "草稿活动", message=False)
        page.get_by_role("link", name="编辑草稿").click()
        expect(page.get_by_label("赠送优惠券")).to_have_value(re.compile(r"^\d+$"))
        page.get_by_label("赠送积分").fill("20")
        page.get_by_role("button", name="保存草稿").click()
        expect(page.get_by_role("status")).to_have_text("草稿已修改。")
        expect(page.get_by_role("region", name="活动内容")).to_contain_text("20")
        accept_dialogs(page)
        page.get_by_role("button", name="删除草稿").click()
        expect(page.get_by_role("status")).to_have_text(f"已删除营销活动“{name}”。")
        expect(page.get_by_role("link", name=name)).to_have_count(0)


class TestARefusedDraft:
    def test_a_campaign_without_an_action_is_not_saved(
        self, page: Page, console_errors: ConsoleErrors
    ) -> None:
        open_as(page, "operator", "/console/segments/new")
        segment, name = unique("银卡"), unique("空活动")
        save_segment(page, segment)
        page.goto("/console/campaigns/new")
        page.get_by_label("活动名称").fill(name)
        page.get_by_label("会员分群").select_option(label=segment)
        page.get_by_role("button", name="保存草稿").click()
        expect(page.get_by_role("alert")).to_have_text("草稿没有保存，请按提示修改。")
        console_errors.expect(400)
        gifts = page.get_by_role("group", name="赠送")
        expect(gifts).to_contain_text("活动至少要赠送优惠券、赠送积分或发送消息中的一项。")
        expect(page.get_by_label("活动名称")).to_have_value(name)
        page.goto("/console/campaigns")
        expect(page.get_by_role("link", name=name)).to_have_count(0)

    def test_a_coupon_field_without_a_coupon_is_refused_beside_its_key(self, page: Page) -> None:
        open_as(page, "operator", "/console/campaigns/new")
        htmx_quiet(page)
        page.get_by_label("发送消息").select_option(label="公众号模板消息")
        expect(page.get_by_label("模板数据键")).to_be_visible()
        list_keys(page, "keyword1")
        key(page, "keyword1").get_by_label("内容").select_option(label="优惠券名称（需赠送优惠券）")
        expect(key(page, "keyword1")).to_contain_text(
            "活动没有相应的赠送，不能显示「优惠券名称」。"
        )


class TestWhoMayEnter:
    def test_a_cashier_cannot_reach_the_campaigns(
        self, page: Page, console_errors: ConsoleErrors
    ) -> None:
        open_as(page, "cashier", "/console/till")
        navigation = page.get_by_role("navigation", name="主导航")
        expect(navigation.get_by_role("link", name="营销活动")).to_have_count(0)
        response = page.goto("/console/campaigns")
        assert response is not None and response.status == 403
        console_errors.expect(403)

    def test_an_operator_finds_them_in_the_navigation(self, page: Page) -> None:
        open_as(page, "operator", "/console/members")
        page.get_by_role("navigation", name="主导航").get_by_role("link", name="营销活动").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("营销活动")


class TestEveryCodeHasItsWords:
    def test_the_catalogue_covers_the_codes_of_campaigns(self) -> None:
        texts = catalogue()
        wanted = [
            *(f"campaigns.fields.{name}" for name in CATALOGUE),
            *(f"campaigns.states.{state.value}" for state in CampaignState),
            *(f"reminders.states.{state.value}" for state in DeliveryState),
            *(f"errors.{code}" for code in ("campaign_not_found", "campaign_wrong_state")),
        ]
        assert [key for key in wanted if key not in texts] == []
