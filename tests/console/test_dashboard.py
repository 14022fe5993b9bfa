"""数据概览: the demo's 90 days as figures and charts, the period switch, CSVs, who may look."""

from __future__ import annotations

import csv
import io
import re

from playwright.sync_api import Locator, Page, expect

from tests.console.conftest import DEMO_PASSWORD, ConsoleErrors, sign_in

CHARTS = (
    "会员总数与新开卡",
    "活跃会员",
    "签到",
    "积分发放、消耗与过期",
    "未使用积分（积分负债）",
    "领券与核销",
    "积分商城兑换",
    "等级分布",
    "提醒发送结果",
    "公众号粉丝",
)


def chart(page: Page, title: str) -> Locator:
    return page.get_by_role("region", name=title, exact=True)


def open_dashboard(page: Page, username: str) -> None:
    sign_in(page, username)
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="数据概览").click()
    expect(page.get_by_role("heading", name="数据概览", level=1)).to_be_visible()


class TestDashboard:
    def test_the_owner_lands_on_the_figures_and_charts(self, page: Page) -> None:
        sign_in(page, "owner")
        expect(page).to_have_url(re.compile(r"/console/dashboard$"))
        today = page.get_by_role("region", name=re.compile(r"^今日"))
        expect(today.get_by_text("会员总数", exact=True)).to_be_visible()
        members = today.get_by_role("definition").first
        assert int(members.inner_text().replace(",", "")) > 50  # the demo's 90 days of members
        for title in CHARTS:
            expect(chart(page, title).locator("canvas")).to_have_count(1)
            expect(chart(page, title).get_by_role("link", name="下载 CSV")).to_be_visible()

    def test_an_operator_sees_the_numbers_of_a_day_on_hover(self, page: Page) -> None:
        open_dashboard(page, "operator")
        members = chart(page, "会员总数与新开卡")
        canvas = members.locator("canvas").first
        box = canvas.bounding_box()
        assert box is not None
        canvas.hover(position={"x": box["width"] * 0.8, "y": box["height"] * 0.6})
        tip = members.get_by_text(re.compile(r"会员总数：\d"))
        expect(tip).to_be_visible()
        expect(members.get_by_text(re.compile(r"^\d{4}-\d{2}-\d{2}"))).to_be_visible()

    def test_the_period_switches_to_90_days(self, page: Page) -> None:
        open_dashboard(page, "operator")
        period = page.get_by_role("navigation", name="统计区间")
        expect(period.get_by_role("link", name="近 30 天")).to_have_attribute(
            "aria-current", "page"
        )
        period.get_by_role("link", name="近 90 天").click()
        expect(page).to_have_url(re.compile(r"/console/dashboard\?days=90$"))
        expect(period.get_by_role("link", name="近 90 天")).to_have_attribute(
            "aria-current", "page"
        )
        expect(page.get_by_role("heading", name="近 90 天合计（含今日）")).to_be_visible()
        expect(chart(page, "签到").locator("canvas")).to_have_count(1)
        page.reload()  # the address of the 90 days is a page of its own
        expect(page.get_by_role("heading", name="近 90 天合计（含今日）")).to_be_visible()

    def test_a_chart_downloads_as_csv_with_a_header_row(self, page: Page) -> None:
        open_dashboard(page, "operator")
        with page.expect_download() as download_info:
            chart(page, "签到").get_by_role("link", name="下载 CSV").click()
        download = download_info.value
        assert download.suggested_filename == "dashboard-checkins-30d.csv"
        text = download.path().read_text(encoding="utf-8-sig")
        rows = list(csv.reader(io.StringIO(text)))
        assert rows[0] == ["日期", "签到次数"]
        assert len(rows) == 31  # the header and 30 days, today last
        assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2}", row[0]) for row in rows[1:])

    def test_the_coupon_templates_redemption_rates_are_a_table(self, page: Page) -> None:
        open_dashboard(page, "owner")
        page.get_by_role("navigation", name="统计区间").get_by_role("link", name="近 90 天").click()
        rates = page.get_by_role("region", name="各优惠券核销率（近 90 天）")
        table = rates.get_by_role("table")
        expect(table.get_by_role("columnheader", name="核销率")).to_be_visible()
        expect(table.get_by_role("row")).not_to_have_count(1)  # more than the header


def sign_in_on_the_way_to(page: Page, path: str, username: str) -> None:
    """Open a console page, and sign in on the form it sends to."""
    page.goto(path)
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_load_state()


class TestWhoMayLook:
    def test_a_cashier_is_refused_the_dashboard(
        self, page: Page, console_errors: ConsoleErrors
    ) -> None:
        sign_in_on_the_way_to(page, "/console/dashboard", "cashier")
        console_errors.expect(403)
        expect(page).to_have_url(re.compile(r"/console/dashboard$"))
        expect(page.get_by_text("您的角色不能打开这个页面。")).to_be_visible()
        navigation = page.get_by_role("navigation", name="主导航")
        expect(navigation.get_by_role("link", name="数据概览")).to_have_count(0)

    def test_a_cashier_cannot_download_the_figures(self, page: Page) -> None:
        sign_in_on_the_way_to(page, "/console/account", "cashier")
        assert page.request.get("/console/dashboard/members.csv").status == 403
        assert page.request.get("/console/dashboard/data.json").status == 403
