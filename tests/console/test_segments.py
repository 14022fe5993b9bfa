"""RFM in the console: segment sizes and monthly moves on 数据概览, scores on a member's page.

The demo scores its history as the daily job would have on the first of each month and today
(wxmember/demo/activity.py), so both tables have rows from the first minute.
"""

from __future__ import annotations

import re
import urllib.error
from typing import Any

from playwright.sync_api import Page, expect

from tests.console.conftest import ConsoleErrors, sign_in
from tests.console.test_members import _call, new_name, open_card, section, sign_in_to, staff_token

LABELS = (
    "重要价值",
    "重要发展",
    "重要保持",
    "重要挽留",
    "一般价值",
    "一般发展",
    "一般保持",
    "一般挽留",
    "新客",
    "未购买",
)


def _scored_buyer(base: str) -> dict[str, Any]:
    """A demo member the latest run scored with purchases: id and their RFM as the API gives it."""
    token = staff_token(base, "operator")
    for member_id in range(1, 200):
        try:
            found = _call(f"{base}/admin/api/v1/members/{member_id}/rfm", token=token)
        except urllib.error.HTTPError:
            continue
        if found["rfm"] and found["rfm"]["frequency"] > 0:
            return found
    raise AssertionError("the demo has no scored buyer")


class TestDashboard:
    def test_segment_sizes_and_the_monthly_moves_are_tables(self, page: Page) -> None:
        sign_in(page, "owner")
        sizes = page.get_by_role("region", name=re.compile(r"^会员分层（截至 \d{4}-\d{2}-\d{2}）$"))
        rows = sizes.get_by_role("row")
        for label in LABELS:
            expect(rows.filter(has=page.get_by_role("rowheader", name=label))).to_have_count(1)
        counts = [
            int(
                rows.filter(has=page.get_by_role("rowheader", name=label))
                .get_by_role("cell")
                .first.inner_text()
                .replace(",", "")
            )
            for label in LABELS
        ]
        total = rows.filter(has=page.get_by_role("rowheader", name="合计")).get_by_role("cell")
        assert int(total.first.inner_text().replace(",", "")) == sum(counts) > 50

        moves = page.get_by_role(
            "region", name=re.compile(r"^分层迁移（\d{4}-\d{2} → \d{4}-\d{2}）$")
        )
        table = moves.get_by_role("table", name=re.compile("行：上月快照的分层"))
        header = table.get_by_role("columnheader")
        expect(header).to_have_count(len(LABELS) + 2)
        body_rows = table.get_by_role("row").filter(has=page.get_by_role("rowheader"))
        assert body_rows.count() >= 2

        trend = page.get_by_role("region", name="各月分层人数").get_by_role("table")
        months = trend.get_by_role("rowheader")
        # 90 days hold two or three firsts of a month; a first just after the history began
        # finds no card holders yet and has an empty snapshot.
        assert months.count() >= 2
        assert re.fullmatch(r"\d{4}-\d{2}", months.first.inner_text())


class TestMemberPage:
    def test_a_buyer_shows_scores_and_segment(self, page: Page, console_url: str) -> None:
        found = _scored_buyer(console_url)
        rfm = found["rfm"]
        sign_in_to(page, "operator", f"/console/members/{found['member_id']}")
        part = section(page, "会员分层（RFM）")
        for label, score in (
            ("R 最近消费", "r_score"),
            ("F 消费频次", "f_score"),
            ("M 消费金额", "m_score"),
        ):
            figure = part.get_by_text(label, exact=True).locator("xpath=..")
            expect(figure).to_contain_text(str(rfm[score]))
        expect(part.get_by_role("definition").first).to_have_text(rfm["segment_label"])
        expect(part).to_contain_text(f"{rfm['recency_days']} 天前")
        expect(part).to_contain_text(f"计算日期：{rfm['computed_on']}")

    def test_a_card_opened_today_is_not_scored_yet(self, page: Page, console_url: str) -> None:
        member = open_card(console_url, new_name("分层"))
        sign_in_to(page, "operator", f"/console/members/{member['id']}")
        expect(section(page, "会员分层（RFM）")).to_contain_text("尚未计算")


class TestSettings:
    def test_an_operator_sets_thresholds_and_scores_today_under_them(self, page: Page) -> None:
        sign_in(page, "operator")
        page.get_by_role("navigation", name="主导航").get_by_role("link", name="会员分层").click()
        expect(page.get_by_role("heading", name="会员分层", level=1)).to_be_visible()
        page.get_by_label("评分方式", exact=True).select_option(label="按门槛")
        for short, unit, bounds in (
            ("R", "天", ("30", "60", "90", "180")),
            ("F", "次", ("2", "3", "5", "8")),
            ("M", "元", ("100", "300", "500", "1000.5")),
        ):
            for n, bound in enumerate(bounds, start=1):
                page.get_by_label(f"{short} 第 {n} 档（{unit}）").fill(bound)
        page.get_by_role("button", name="保存").click()
        expect(page.get_by_role("status")).to_have_text("已保存。")
        current = page.get_by_role("region", name="当前设置")
        expect(current.get_by_role("definition").first).to_have_text("按门槛")
        expect(page.get_by_label("M 第 4 档（元）")).to_have_value("1000.5")

        page.get_by_role("button", name="计算今天的分层").click()
        expect(page.get_by_role("status")).to_have_text("已计算今天的分层。")
        latest = page.get_by_role("region", name="最近的计算").get_by_role("row").nth(1)
        expect(latest).to_contain_text("按门槛")
        expect(latest).to_contain_text("已完成")
        expect(latest).to_contain_text("R 30 / 60 / 90 / 180")
        expect(latest).to_contain_text("M 100 / 300 / 500 / 1000.5")

    def test_thresholds_out_of_order_are_refused_next_to_them(
        self, page: Page, console_errors: ConsoleErrors
    ) -> None:
        sign_in(page, "operator")
        page.goto("/console/setup/rfm")
        page.get_by_label("评分方式", exact=True).select_option(label="按门槛")
        for n, bound in enumerate(("90", "60", "30", "10"), start=1):
            page.get_by_label(f"R 第 {n} 档（天）").fill(bound)
        for short, unit in (("F", "次"), ("M", "元")):
            for n in range(1, 5):
                page.get_by_label(f"{short} 第 {n} 档（{unit}）").fill(str(n))
        page.get_by_role("button", name="保存").click()
        expect(page.get_by_role("group", name="门槛")).to_contain_text("由小到大")
        expect(page.get_by_label("R 第 1 档（天）")).to_have_value("90")
        console_errors.expect(400)
