"""操作日志 and 员工账号, the owner's pages: reading the log by staff member and action, creating
accounts, changing them, and what the owner may not do to their own account."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.console.conftest import ConsoleErrors
from tests.console.test_reminders import brand_today, open_as, unique

NEW_PASSWORD = "till-password-2024"


def create_account(page: Page, username: str, display_name: str, role: str) -> None:
    page.goto("/console/staff")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("显示名称").fill(display_name)
    page.get_by_label("角色", exact=True).select_option(label=role)
    page.get_by_label("初始密码").fill(NEW_PASSWORD)
    page.get_by_role("button", name="创建账号").click()
    expect(page.get_by_role("status")).to_have_text(f"已创建账号 {display_name}。")


class TestAuditLog:
    def test_the_owner_filters_by_staff_member_action_and_day(self, page: Page) -> None:
        open_as(page, "owner", "/console/audit")
        page.get_by_label("员工").select_option(label="owner")
        page.get_by_label("操作", exact=True).select_option(label="新建提醒规则")
        page.get_by_label("开始日期").fill(brand_today())
        page.get_by_label("结束日期").fill(brand_today())
        page.get_by_role("button", name="筛选").click()

        log = page.get_by_role("table", name="操作日志列表")
        expect(log.get_by_role("cell", name="新建提醒规则", exact=True).first).to_be_visible()
        entries = log.get_by_role("row").count() - 1
        expect(log.get_by_role("cell", name="owner", exact=True)).to_have_count(entries)
        expect(log.get_by_role("cell", name="新建提醒规则", exact=True)).to_have_count(entries)
        expect(page.get_by_label("员工")).to_have_value(re.compile(r"^\d+$"))
        # what was created reads as fields and values
        log.get_by_text(re.compile(r"新建内容（\d+ 项）")).first.click()
        expect(log.get_by_role("term").filter(has_text="template_id").first).to_be_visible()

    def test_a_backward_range_is_refused_next_to_the_end_date(
        self, page: Page, console_errors: ConsoleErrors
    ) -> None:
        open_as(page, "owner", "/console/audit")
        page.get_by_label("开始日期").fill("2026-05-02")
        page.get_by_label("结束日期").fill("2026-05-01")
        page.get_by_role("button", name="筛选").click()
        expect(page.get_by_text("结束日期不能早于开始日期。")).to_be_visible()
        console_errors.expect(400)


class TestStaffAccounts:
    def test_the_owner_creates_a_cashier_who_can_then_sign_in(self, page: Page) -> None:
        open_as(page, "owner", "/console/staff")
        username = unique("till-")
        create_account(page, username, "小王", "收银员")
        account = page.get_by_role("row", name=re.compile(username))
        expect(account).to_contain_text("收银员")
        expect(account).to_contain_text("正常")

        page.get_by_role("button", name="退出登录").click()
        open_as(page, username, "/console/account", NEW_PASSWORD)
        navigation = page.get_by_role("navigation", name="主导航")
        expect(navigation.get_by_role("link", name="收银台")).to_be_visible()
        expect(navigation.get_by_role("link", name="员工账号")).to_have_count(0)
        expect(page.get_by_text(username)).to_be_visible()

    def test_a_role_change_and_a_new_password_are_logged_without_the_password(
        self, page: Page
    ) -> None:
        open_as(page, "owner", "/console/staff")
        username = unique("ops-")
        create_account(page, username, username, "收银员")
        page.get_by_label(f"{username} 的角色").select_option(label="运营")
        page.get_by_role("button", name=f"修改角色 {username}").click()
        expect(page.get_by_role("status")).to_contain_text(f"已修改 {username} 的角色")
        expect(page.get_by_role("row", name=re.compile(username))).to_contain_text("运营")
        page.get_by_label(f"{username} 的新密码").fill("another-password-1")
        page.get_by_role("button", name=f"重设密码 {username}").click()
        expect(page.get_by_role("status")).to_contain_text(f"已重设 {username} 的密码")

        page.goto("/console/audit")
        page.get_by_label("操作", exact=True).select_option(label="修改员工账号")
        page.get_by_role("button", name="筛选").click()
        log = page.get_by_role("table", name="操作日志列表")
        latest = log.get_by_role("row").nth(1)
        expect(latest).to_contain_text("password")
        expect(latest).to_contain_text("已修改")
        role_change = log.get_by_role("row").nth(2)
        expect(role_change).to_contain_text("cashier → operator")
        expect(page.get_by_text("another-password-1")).to_have_count(0)

    def test_the_owner_may_not_disable_or_demote_themselves(
        self, page: Page, console_errors: ConsoleErrors
    ) -> None:
        open_as(page, "owner", "/console/staff")
        page.get_by_role("button", name="停用 owner").click()
        own = page.get_by_role("row", name=re.compile("^owner"))
        expect(own.get_by_role("alert")).to_have_text(
            "不能降低自己的角色或停用自己的账号；请让另一位店主操作。"
        )
        console_errors.expect(409)
        expect(own).to_contain_text("正常")
        page.get_by_label("owner 的角色").select_option(label="运营")
        page.get_by_role("button", name="修改角色 owner").click()
        # the page again, the role as it stands, the refusal beside it
        expect(page.get_by_label("owner 的角色")).to_have_value("owner")
        expect(
            page.get_by_role("row", name=re.compile("^owner")).get_by_role("alert")
        ).to_be_visible()
        console_errors.expect(409)
        page.goto("/console/staff")
        expect(page.get_by_role("row", name=re.compile("^owner"))).to_contain_text("店主")


class TestOnlyTheOwner:
    def test_an_operator_gets_403_on_the_audit_log_and_staff_accounts(
        self, page: Page, console_errors: ConsoleErrors
    ) -> None:
        open_as(page, "operator", "/console/reminders")
        for path in ("/console/audit", "/console/staff"):
            page.goto(path)
            expect(page.get_by_role("alert")).to_have_text("您的角色不能打开这个页面。")
            console_errors.expect(403)
            expect(page.get_by_role("table")).to_have_count(0)
