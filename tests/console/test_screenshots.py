"""The console's pictures in the README, taken from the demo: each page is first checked to show
what the picture is meant to show (charts drawn, a member's activity, a preview's recipients),
then taken at 1440×900 (the picture is the window, not the whole page). They are written to
`docs/` when asked for (`WXMEMBER_SCREENSHOTS=1`), so that an ordinary run leaves the tree as it
was; otherwise to a temporary folder."""

from __future__ import annotations

import os
import re
import tempfile
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from playwright.sync_api import Locator, Page, ViewportSize, expect

from tests.console.conftest import sign_in
from tests.console.test_campaigns import launch_now, new_draft
from tests.support.processes import REPO_ROOT

DOCS = REPO_ROOT / "docs"
WINDOW: ViewportSize = {"width": 1440, "height": 900}
LARGEST = 400_000  # bytes: pictures a README can carry

# How many pixels of a canvas are painted (ECharts draws a chart on one canvas).
PAINTED = """canvas => {
  const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0;
  for (let alpha = 3; alpha < pixels.length; alpha += 4) if (pixels[alpha]) painted += 1;
  return painted;
}"""


def picture(page: Page, name: str) -> Path:
    """The window as it stands, written to docs/ when asked for (overwriting)."""
    folder = DOCS if os.environ.get("WXMEMBER_SCREENSHOTS") else Path(tempfile.mkdtemp())
    folder.mkdir(exist_ok=True)
    path = folder / name
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=path, full_page=False)
    assert 0 < path.stat().st_size < LARGEST, (path, path.stat().st_size)
    return path


def section(page: Page, heading: str) -> Locator:
    return page.get_by_role("region", name=heading, exact=True)


def brand_today() -> str:
    return datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()


class TestScreenshots:
    def test_the_dashboard_with_its_charts_drawn(self, page: Page) -> None:
        page.set_viewport_size(WINDOW)
        sign_in(page, "owner")
        expect(page.get_by_role("heading", name="数据概览", level=1)).to_be_visible()
        first = section(page, "会员总数与新开卡").locator("canvas")
        expect(first).to_have_count(1)
        for title in ("活跃会员", "签到"):
            expect(section(page, title).locator("canvas")).to_have_count(1)
        page.wait_for_timeout(1500)  # ECharts animates the series in
        assert first.evaluate(PAINTED) > 1000
        picture(page, "console-dashboard.png")

    def test_a_member_with_activity(self, page: Page) -> None:
        page.set_viewport_size(WINDOW)
        sign_in(page, "owner")
        page.goto("/console/setup/orders")  # a member who redeemed points in the mall
        orders = page.get_by_role("table").get_by_role("row")
        orders.nth(1).get_by_role("link", name=re.compile(r"^\d+$")).click()

        expect(page.get_by_role("heading", level=1)).to_be_visible()
        ledger = section(page, "积分明细").get_by_role("row")
        expect(ledger.nth(2)).to_be_visible()  # the header and at least two entries
        expect(section(page, "商城订单").get_by_role("row").nth(1)).to_be_visible()
        picture(page, "console-member.png")

    def test_a_birthday_reminder_previewed_for_a_day_with_recipients(self, page: Page) -> None:
        page.set_viewport_size(WINDOW)
        sign_in(page, "owner")
        page.get_by_role("navigation", name="主导航").get_by_role("link", name="提醒").click()
        rule = page.get_by_role("row", name=re.compile("生日祝福"))
        rule.get_by_role("link", name="预览").click()
        page.get_by_label("发送日期").fill(brand_today())  # the demo's birthday member
        page.get_by_role("button", name="预览", exact=True).click()

        recipients = page.get_by_role("group", name="收件人数")
        expect(recipients).to_contain_text(re.compile(r"[1-9]"))
        messages = page.get_by_role("table", name="将发送的消息")
        expect(messages.get_by_role("row", name=re.compile("李小满"))).to_be_visible()
        picture(page, "console-reminder-preview.png")

    def test_a_campaign_with_its_results_against_the_holdout(self, page: Page) -> None:
        page.set_viewport_size(WINDOW)
        sign_in(page, "owner")
        new_draft(page, "银卡回馈")
        preview = section(page, "预览")
        expect(
            preview.get_by_role("table", name="消息示例").get_by_role("row").nth(1)
        ).to_be_visible()
        picture(page, "console-campaign-draft.png")

        launch_now(page)
        results = section(page, "效果")
        for _ in range(30):  # the demo's scheduler runs campaigns every 15 seconds
            if results.get_by_role("table").count():
                break
            page.wait_for_timeout(3000)
            page.reload()
        expect(results.get_by_role("rowheader", name="差异").first).to_be_visible()
        results.scroll_into_view_if_needed()
        picture(page, "console-campaign-results.png")
