"""Signing in and out of the console, its session cookie, CSRF, and what each role may open."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.console.conftest import ConsoleErrors, sign_in


class TestSignIn:
    def test_the_console_answers_the_sign_in_form_to_anyone_not_signed_in(self, page: Page) -> None:
        page.goto("/console/")
        expect(page.get_by_role("heading", name="登录")).to_be_visible()
        expect(page.get_by_label("用户名")).to_be_visible()
        expect(page.get_by_label("密码")).to_be_visible()

    def test_a_wrong_password_is_refused_next_to_the_form(
        self, page: Page, console_errors: ConsoleErrors
    ) -> None:
        sign_in(page, "owner", "not-the-password")
        console_errors.expect(401)
        expect(page.get_by_role("alert")).to_have_text("用户名或密码不正确。")

    def test_the_session_cookie_is_http_only_and_strict(self, page: Page) -> None:
        sign_in(page, "operator")
        cookies = {c["name"]: c for c in page.context.cookies()}
        session = cookies["wxm_console"]
        assert session["httpOnly"] and session["sameSite"] == "Strict"
        assert session["path"] == "/console/"

    def test_a_page_asked_for_before_signing_in_is_reached_after_it(self, page: Page) -> None:
        page.goto("/console/account")
        assert "/console/?next=" in page.url
        page.get_by_label("用户名").fill("cashier")
        page.get_by_label("密码").fill("demo-password-123")
        page.get_by_role("button", name="登录").click()
        expect(page).to_have_url(re.compile(r"/console/account$"))


class TestSignOut:
    def test_signing_out_ends_the_session(self, page: Page) -> None:
        sign_in(page, "operator")
        page.get_by_role("button", name="退出登录").click()
        expect(page.get_by_role("heading", name="登录")).to_be_visible()
        page.goto("/console/account")
        assert "/console/?next=" in page.url


class TestCsrf:
    def test_a_form_posted_without_the_token_is_refused(self, page: Page) -> None:
        sign_in(page, "operator")
        response = page.request.post("/console/signout", form={"x": "1"})
        assert response.status == 403
        page.goto("/console/account")
        expect(page.get_by_role("heading", name="我的账号")).to_be_visible()  # still signed in


class TestRoles:
    def test_a_cashier_sees_only_the_till_and_their_account(self, page: Page) -> None:
        sign_in(page, "cashier")
        navigation = page.get_by_role("navigation", name="主导航")
        links = [link.inner_text() for link in navigation.get_by_role("link").all()]
        assert links == ["收银台", "我的账号"]

    def test_the_owner_sees_staff_accounts_and_the_audit_log(self, page: Page) -> None:
        sign_in(page, "owner")
        navigation = page.get_by_role("navigation", name="主导航")
        expect(navigation.get_by_role("link", name="员工账号")).to_be_visible()
        expect(navigation.get_by_role("link", name="操作日志")).to_be_visible()

    def test_an_operator_does_not_see_staff_accounts(self, page: Page) -> None:
        sign_in(page, "operator")
        navigation = page.get_by_role("navigation", name="主导航")
        expect(navigation.get_by_role("link", name="会员管理")).to_be_visible()
        expect(navigation.get_by_role("link", name="员工账号")).to_have_count(0)
