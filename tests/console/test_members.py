"""会员管理 in the console, as staff use it: finding a member, their page, and what staff do there.

Each test opens the cards it needs through the demo's fake WeChat and the mini-program API, as a
member would (`open_card`), with its own phone numbers and names, so tests never meet.
"""

from __future__ import annotations

import json
import re
import secrets
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.console.conftest import DEMO_PASSWORD, ConsoleErrors


def _call(
    url: str,
    body: dict[str, Any] | None = None,
    token: str | None = None,
    headers: dict[str, str] | None = None,
) -> Any:
    """A JSON request (POST with a body, else GET) to the demo's APIs; the decoded answer."""
    sent = {"Content-Type": "application/json"} | (headers or {})
    if token:
        sent["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers=sent)
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"null")


def _post_json(url: str, body: dict[str, Any], token: str | None = None) -> Any:
    return _call(url, body, token)


def new_phone() -> str:
    return "139" + "".join(secrets.choice("0123456789") for _ in range(8))


def new_name(prefix: str = "测试") -> str:
    return f"{prefix}{secrets.token_hex(3)}"


def open_card(base: str, name: str, phone: str | None = None) -> dict[str, Any]:
    """A member who logs in through the fake WeChat and opens a card: id, card_no, name, phone
    and the member's session token."""
    openid = f"console-members-{secrets.token_hex(8)}"
    code = _post_json(f"{base}/fake-wechat/_demo/login-code", {"openid": openid})["code"]
    session = _post_json(f"{base}/api/v1/session", {"code": code})
    body: dict[str, Any] = {"name": name, "birthday": "1990-05-17", "gender": "female"}
    if phone is not None:
        body["phone_code"] = _post_json(f"{base}/fake-wechat/_demo/phone-code", {"phone": phone})[
            "code"
        ]
    card = _post_json(f"{base}/api/v1/card", body, token=session["token"])
    return {
        "id": session["member"]["id"],
        "card_no": card["card_no"],
        "name": name,
        "phone": phone,
        "token": session["token"],
    }


def staff_token(base: str, username: str) -> str:
    body = {"username": username, "password": DEMO_PASSWORD}
    return str(_post_json(f"{base}/admin/api/v1/login", body)["token"])


def sign_in_to(page: Page, username: str, path: str = "/console/members") -> None:
    """Open a page of the console and sign in on the way, as staff following a link do."""
    page.goto(path)
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(re.compile(re.escape(path) + "$"))
    # The address changes when the page starts to arrive; its scripts run by the load event.
    page.wait_for_load_state()


def search(page: Page, text: str) -> None:
    """Type into the search box and wait for the results to follow (the address follows too)."""
    page.get_by_label("搜索会员").fill(text)
    expect(page).to_have_url(re.compile(r"/console/members\?q="))


def csrf_token(page: Page) -> str:
    return next(c["value"] for c in page.context.cookies() if c["name"] == "wxm_console_csrf")


def section(page: Page, heading: str) -> Locator:
    """A part of the page by its heading."""
    return page.get_by_role("region", name=heading, exact=True)


def results(page: Page) -> Locator:
    """The rows of the search results (the header row included)."""
    return page.get_by_role("table").get_by_role("row")


@pytest.fixture
def member(console_url: str) -> dict[str, Any]:
    return open_card(console_url, new_name(), new_phone())


class TestSearch:
    def test_an_operator_finds_a_member_by_phone_and_adjusts_points(
        self, page: Page, member: dict[str, Any]
    ) -> None:
        sign_in_to(page, "operator")
        search(page, member["phone"])
        masked = member["phone"][:3] + "****" + member["phone"][-4:]
        expect(results(page).filter(has_text=masked)).to_have_count(1)
        page.get_by_role("link", name=member["card_no"]).click()

        expect(page.get_by_role("heading", level=1)).to_contain_text(member["name"])
        page.get_by_label("积分数（正数增加，负数扣减）").fill("120")
        page.get_by_label("调整原因").fill("补录门店消费积分")
        page.get_by_role("button", name="调整积分").click()

        expect(page.get_by_role("status")).to_have_text("积分已调整。")
        ledger = section(page, "积分明细")
        row = ledger.get_by_role("row").filter(has_text="补录门店消费积分")
        expect(row).to_contain_text("人工调整")
        expect(row).to_contain_text("+120")
        expect(section(page, "积分").get_by_text("120", exact=True).first).to_be_visible()

    def test_a_card_number_finds_exactly_its_member(
        self, page: Page, member: dict[str, Any]
    ) -> None:
        sign_in_to(page, "operator")
        spaced = " ".join(member["card_no"][i : i + 4] for i in range(0, 16, 4))
        search(page, spaced)
        expect(results(page)).to_have_count(2)  # the header and the member
        expect(results(page).nth(1)).to_contain_text(member["name"])

    def test_a_name_finds_every_member_whose_name_contains_it(
        self, page: Page, console_url: str
    ) -> None:
        family = new_name("欧阳")
        first = open_card(console_url, f"{family}甲")
        second = open_card(console_url, f"{family}乙")
        sign_in_to(page, "operator")
        search(page, family)
        rows = results(page).filter(has_text=family)
        expect(rows).to_have_count(2)
        expect(rows.nth(0)).to_contain_text(second["name"])  # newest first
        expect(rows.nth(1)).to_contain_text(first["name"])

    def test_a_part_of_a_number_is_refused_next_to_the_box(self, page: Page) -> None:
        sign_in_to(page, "operator")
        search(page, "138123")
        expect(page.get_by_role("alert")).to_have_text(
            "请输入完整的 16 位卡号、11 位手机号，或姓名。"
        )

    def test_results_continue_page_by_page(self, page: Page, console_url: str) -> None:
        family = new_name("司马")
        for number in range(21):
            open_card(console_url, f"{family}{number:02d}")
        sign_in_to(page, "operator")
        search(page, family)
        rows = results(page)
        expect(rows.filter(has_text=family)).to_have_count(20)
        next_page = page.get_by_role("link", name="下一页")
        href = next_page.get_attribute("href")
        assert href is not None and "cursor=" in href

        next_page.click()  # htmx: the next rows join the table
        expect(rows.filter(has_text=family)).to_have_count(21)
        expect(rows.filter(has_text=f"{family}00")).to_have_count(1)
        expect(page.get_by_role("link", name="下一页")).to_have_count(0)

        page.goto(href)  # the same link without scripts: a page of its own
        expect(rows.filter(has_text=family)).to_have_count(1)
        expect(page.get_by_role("link", name="回到第一页")).to_be_visible()

    def test_the_search_works_without_scripts(
        self, browser: Browser, console_url: str, member: dict[str, Any]
    ) -> None:
        context = browser.new_context(
            base_url=console_url, locale="zh-CN", java_script_enabled=False
        )
        try:
            page = context.new_page()
            sign_in_to(page, "operator")
            page.get_by_label("搜索会员").fill(member["name"])
            page.get_by_role("button", name="搜索").click()
            expect(page).to_have_url(re.compile(r"/console/members\?q="))
            expect(page.get_by_role("link", name=member["card_no"])).to_be_visible()
        finally:
            context.close()


class TestMemberPage:
    def test_the_page_shows_check_ins_orders_and_coupons(
        self, page: Page, member: dict[str, Any], console_url: str
    ) -> None:
        _post_json(f"{console_url}/api/v1/checkins", {}, token=member["token"])
        operator = staff_token(console_url, "operator")
        adjustments = f"{console_url}/admin/api/v1/members/{member['id']}/points-adjustments"
        _post_json(adjustments, {"amount": 600, "reason": "兑换前补足"}, token=operator)
        items = _call(f"{console_url}/api/v1/mall/items", token=member["token"])["items"]
        item = next(i for i in items if i["title"] == "满50减10 优惠券")
        _call(
            f"{console_url}/api/v1/mall/redemptions",
            {"item_id": item["id"]},
            token=member["token"],
            headers={"Idempotency-Key": secrets.token_hex(8)},
        )

        sign_in_to(page, "operator", f"/console/members/{member['id']}")
        expect(section(page, "本月签到")).to_contain_text("已签到")
        order = section(page, "商城订单").get_by_role("row").filter(has_text="满50减10 优惠券")
        expect(order).to_contain_text("500")
        expect(
            section(page, "优惠券").get_by_role("row").filter(has_text="积分兑换")
        ).to_have_count(1)
        ledger = section(page, "积分明细")
        expect(ledger.get_by_role("row").filter(has_text="商城兑换")).to_contain_text("-500")
        expect(ledger.get_by_role("row").filter(has_text="签到")).to_have_count(1)

    def test_a_cashier_may_not_open_a_members_page(
        self, page: Page, member: dict[str, Any], console_errors: ConsoleErrors
    ) -> None:
        sign_in_to(page, "cashier", "/console/account")
        page.goto(f"/console/members/{member['id']}")
        expect(page.get_by_role("alert")).to_have_text("您的角色不能打开这个页面。")
        expect(page.get_by_role("heading", name=member["name"])).to_have_count(0)
        console_errors.expect(403)


class TestAdjustPoints:
    def test_taking_more_than_the_balance_is_refused_next_to_the_amount(
        self, page: Page, member: dict[str, Any], console_errors: ConsoleErrors
    ) -> None:
        sign_in_to(page, "operator", f"/console/members/{member['id']}")
        page.get_by_label("积分数（正数增加，负数扣减）").fill("-500")
        page.get_by_label("调整原因").fill("误发积分收回")
        page.get_by_role("button", name="调整积分").click()
        expect(page.get_by_role("alert")).to_have_text("积分不足：扣减不能超过会员当前余额。")
        amount = page.get_by_label("积分数（正数增加，负数扣减）")
        expect(amount).to_have_value("-500")
        expect(amount).to_have_attribute("aria-invalid", "true")
        expect(section(page, "积分明细").get_by_text("误发积分收回")).to_have_count(0)
        console_errors.expect(409)

    def test_the_same_form_submitted_twice_adjusts_once(
        self, page: Page, member: dict[str, Any]
    ) -> None:
        path = f"/console/members/{member['id']}"
        sign_in_to(page, "operator", path)
        form: dict[str, str | float | bool] = {
            "csrf_token": csrf_token(page),
            "idempotency_key": page.locator("input[name=idempotency_key]").first.input_value(),
            "amount": "30",
            "reason": "重复提交也只调整一次",
        }
        for _ in range(2):
            assert page.request.post(f"{path}/points", form=form).ok
        page.reload()
        ledger = section(page, "积分明细")
        expect(ledger.get_by_role("row").filter(has_text="重复提交也只调整一次")).to_have_count(1)

    def test_a_long_ledger_continues_page_by_page(
        self, page: Page, member: dict[str, Any], console_url: str
    ) -> None:
        token = staff_token(console_url, "operator")
        url = f"{console_url}/admin/api/v1/members/{member['id']}/points-adjustments"
        for number in range(21):
            _post_json(url, {"amount": 1, "reason": f"第{number:02d}笔"}, token=token)
        sign_in_to(page, "operator", f"/console/members/{member['id']}")
        ledger = section(page, "积分明细")
        expect(ledger.get_by_role("row").filter(has_text="第")).to_have_count(20)
        ledger.get_by_role("link", name="下一页").click()
        expect(ledger.get_by_role("row").filter(has_text="第")).to_have_count(21)
        expect(ledger.get_by_role("row").filter(has_text="第00笔")).to_have_count(1)


class TestCoupons:
    def test_an_issued_coupon_shows_in_the_members_coupons(
        self, page: Page, member: dict[str, Any]
    ) -> None:
        sign_in_to(page, "operator", f"/console/members/{member['id']}")
        page.get_by_label("选择优惠券").select_option(label="满50减10")
        page.get_by_label("发放原因").fill("客诉补偿")
        page.get_by_role("button", name="发放优惠券").click()
        expect(page.get_by_role("status")).to_have_text("优惠券已发放。")
        coupons = section(page, "优惠券")
        row = coupons.get_by_role("row").filter(has_text="满50减10")
        expect(row).to_have_count(1)
        expect(row).to_contain_text("未使用")

    def test_a_grant_without_a_coupon_chosen_is_refused(
        self, page: Page, member: dict[str, Any]
    ) -> None:
        path = f"/console/members/{member['id']}"
        sign_in_to(page, "operator", path)
        form: dict[str, str | float | bool] = {
            "csrf_token": csrf_token(page),
            "template_id": "",
            "reason": "x",
        }
        assert page.request.post(f"{path}/coupons", form=form).status == 400


class TestMoveTier:
    def test_moving_a_member_changes_the_tier_and_its_history(
        self, page: Page, member: dict[str, Any]
    ) -> None:
        sign_in_to(page, "operator", f"/console/members/{member['id']}")
        page.get_by_label("新等级").select_option(label="金卡会员")
        page.get_by_label("备注（选填）").fill("大客户")
        page.get_by_role("button", name="调整等级").click()
        expect(page.get_by_role("status")).to_have_text("等级已调整。")
        card = section(page, "会员卡")
        expect(card).to_contain_text("金卡会员")
        expect(card).to_contain_text("还差 20000 成长值升级为钻石会员")
        change = section(page, "等级变动").get_by_role("row").filter(has_text="大客户")
        expect(change).to_contain_text("普通会员")
        expect(change).to_contain_text("金卡会员")
        expect(change).to_contain_text("人工调整")

    def test_the_current_tier_is_refused_next_to_the_choice(
        self, page: Page, member: dict[str, Any], console_errors: ConsoleErrors
    ) -> None:
        sign_in_to(page, "operator", f"/console/members/{member['id']}")
        page.get_by_role("button", name="调整等级").click()  # the current tier is preselected
        expect(page.get_by_role("alert")).to_have_text("会员已经是这个等级。")
        expect(page.get_by_label("新等级")).to_have_attribute("aria-invalid", "true")
        console_errors.expect(409)


class TestRevealPhone:
    def test_the_owner_reveals_the_phone_and_the_audit_log_records_it(
        self, page: Page, member: dict[str, Any]
    ) -> None:
        sign_in_to(page, "owner", f"/console/members/{member['id']}")
        card = section(page, "会员卡")
        expect(card).not_to_contain_text(member["phone"])
        page.get_by_role("button", name="查看完整手机号").click()
        expect(card).to_contain_text(member["phone"])
        expect(page.get_by_role("button", name="查看完整手机号")).to_have_count(0)

        page.reload()  # shown once: the page shows it masked again
        expect(card).not_to_contain_text(member["phone"])
        entry = section(page, "操作日志").get_by_role("row").filter(has_text="查看完整手机号")
        expect(entry).to_have_count(1)
        expect(entry).to_contain_text("owner")

    def test_an_operator_has_no_reveal_button_and_a_forged_reveal_is_refused(
        self, page: Page, member: dict[str, Any]
    ) -> None:
        path = f"/console/members/{member['id']}"
        sign_in_to(page, "operator", path)
        expect(section(page, "会员卡")).to_be_visible()
        expect(page.get_by_role("button", name="查看完整手机号")).to_have_count(0)
        expect(page.get_by_role("button", name="导出数据（JSON）")).to_have_count(0)
        expect(page.get_by_role("button", name="注销账号")).to_have_count(0)
        expect(section(page, "操作日志")).to_have_count(0)
        token: dict[str, str | float | bool] = {"csrf_token": csrf_token(page)}
        reveal = page.request.post(f"{path}/reveal", form=token)
        assert reveal.status == 403
        assert member["phone"] not in reveal.text()
        assert page.request.post(f"{path}/export", form=token).status == 403
        confirm = token | {"confirm_card_no": member["card_no"]}
        assert page.request.post(f"{path}/delete", form=confirm).status == 403
        page.reload()
        expect(page.get_by_role("heading", level=1)).to_contain_text(member["name"])


class TestExport:
    def test_the_owner_downloads_the_members_data_as_json(
        self, page: Page, member: dict[str, Any], tmp_path: Path
    ) -> None:
        sign_in_to(page, "owner", f"/console/members/{member['id']}")
        with page.expect_download() as download:
            page.get_by_role("button", name="导出数据（JSON）").click()
        assert download.value.suggested_filename == f"member-{member['id']}.json"
        saved = tmp_path / "export.json"
        download.value.save_as(saved)
        data = json.loads(saved.read_text(encoding="utf-8"))
        assert data["profile"]["name"] == member["name"]
        assert data["profile"]["phone"] == member["phone"]
        page.reload()
        expect(
            section(page, "操作日志").get_by_role("row").filter(has_text="导出数据")
        ).to_have_count(1)


class TestDeleteAccount:
    def test_the_owner_deletes_an_account_after_typing_its_card_number(
        self, page: Page, member: dict[str, Any]
    ) -> None:
        sign_in_to(page, "owner", f"/console/members/{member['id']}")
        confirm = page.get_by_label(f"输入卡号 {member['card_no']} 以确认")
        delete = page.get_by_role("button", name="注销账号")
        expect(delete).to_be_disabled()
        confirm.fill(member["card_no"][:-1] + ("0" if member["card_no"][-1] != "0" else "1"))
        expect(delete).to_be_disabled()
        confirm.fill(member["card_no"])
        expect(delete).to_be_enabled()
        delete.click()

        expect(page.get_by_role("status")).to_have_text("会员账号已注销。")
        search(page, member["phone"])
        expect(page.get_by_role("table")).to_contain_text("没有找到会员。")

    def test_a_wrong_card_number_deletes_nothing(
        self, browser: Browser, console_url: str, member: dict[str, Any]
    ) -> None:
        # without scripts the button is not held back: the service refuses the wrong number
        context = browser.new_context(
            base_url=console_url, locale="zh-CN", java_script_enabled=False
        )
        try:
            page = context.new_page()
            sign_in_to(page, "owner", f"/console/members/{member['id']}")
            page.get_by_label(f"输入卡号 {member['card_no']} 以确认").fill("1234567890123456")
            page.get_by_role("button", name="注销账号").click()
            expect(page.get_by_role("alert")).to_have_text("输入的卡号与这位会员的卡号不一致。")
            page.goto(f"/console/members/{member['id']}")
            expect(page.get_by_role("heading", level=1)).to_contain_text(member["name"])
        finally:
            context.close()
