"""Programme set-up in the console: the tier ladder, check-in rules, coupon templates, mall items
and mall orders, as owners and operators work with them (cashiers may not open them).

The demo service is shared by the whole session, so what a test creates carries a name of its
own (and a tier a level of its own).
"""

from __future__ import annotations

import random
import re
import uuid
from typing import Any

import pytest
from playwright.sync_api import Dialog, FilePayload, Page, expect

from console.views.setup.mall import read_codes
from tests.console.conftest import DEMO_PASSWORD, ConsoleErrors
from wxmember.core.errors import ValidationFailed

SETUP_PAGES = [
    "/console/setup/tiers",
    "/console/setup/checkin",
    "/console/setup/coupons",
    "/console/setup/mall",
    "/console/setup/orders",
]


def open_as(page: Page, username: str, path: str) -> None:
    """Open a page of the console, signing in on the way as staff do."""
    page.goto(path)
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_load_state()


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:4]}"


def accept_dialogs(page: Page) -> None:
    def accept(dialog: Dialog) -> None:
        dialog.accept()

    page.on("dialog", accept)


def new_tier(page: Page, name: str, level: int, growth: int) -> None:
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="会员等级").click()
    page.get_by_role("link", name="新建等级").click()
    page.get_by_label("等级名称").fill(name)
    page.get_by_label("等级序号").fill(str(level))
    page.get_by_label("升级成长值").fill(str(growth))
    page.get_by_label("保级成长值").fill(str(growth // 2))
    page.get_by_label("积分倍率（%）").fill("200")
    page.get_by_role("button", name="保存", exact=True).click()


class TestTierLadder:
    def test_the_owner_creates_a_tier_and_it_shows_in_the_ladder(self, page: Page) -> None:
        open_as(page, "owner", "/console/setup/tiers")
        name = unique("黑金")
        new_tier(page, name, level=40, growth=400_000)
        expect(page.get_by_role("status")).to_have_text("已创建。")
        row = page.get_by_role("row").filter(has=page.get_by_role("link", name=name))
        expect(row.get_by_role("cell", name="2 倍")).to_be_visible()
        expect(row.get_by_role("cell", name="400000")).to_be_visible()

    def test_a_threshold_below_the_tier_below_is_refused_next_to_its_field(
        self, page: Page, console_errors: ConsoleErrors
    ) -> None:
        open_as(page, "operator", "/console/setup/tiers")
        new_tier(page, unique("低门槛"), level=41, growth=10)
        expect(page.get_by_label("升级成长值")).to_have_accessible_description(
            re.compile("升级成长值必须高于下一级、低于上一级等级。")
        )
        expect(page.get_by_label("等级序号")).to_have_value("41")  # what was typed stays
        console_errors.expect(400)

    def test_the_form_is_checked_against_the_ladder_as_it_is_typed(self, page: Page) -> None:
        open_as(page, "operator", "/console/setup/tiers/new")
        page.get_by_label("等级名称").fill(unique("重复"))
        page.get_by_label("等级序号").fill("1")  # the silver tier's level
        page.get_by_label("升级成长值").fill("999999")
        page.get_by_label("升级成长值").blur()
        expect(page.get_by_label("等级序号")).to_have_accessible_description(
            re.compile("这个等级序号已被其他等级使用。")
        )
        page.get_by_label("等级序号").fill("42")
        page.get_by_label("等级序号").blur()
        expect(page.get_by_label("等级序号")).not_to_have_accessible_description(
            re.compile("已被其他等级使用")
        )

    def test_a_tier_that_members_hold_is_not_deleted(
        self, page: Page, console_errors: ConsoleErrors
    ) -> None:
        open_as(page, "owner", "/console/setup/tiers")
        accept_dialogs(page)
        page.get_by_role("link", name="普通会员").click()
        page.get_by_role("button", name="删除等级").click()
        expect(page.get_by_role("alert")).to_have_text(re.compile("还有会员在这个等级"))
        page.get_by_role("link", name="返回会员等级").click()
        expect(page.get_by_role("link", name="普通会员")).to_be_visible()
        console_errors.expect(409)

    def test_an_unused_tier_is_edited_and_deleted(self, page: Page) -> None:
        open_as(page, "owner", "/console/setup/tiers")
        accept_dialogs(page)
        name = unique("临时")
        new_tier(page, name, level=43, growth=430_000)
        page.get_by_role("link", name=name).click()
        page.get_by_label("升级礼积分").fill("88")
        page.get_by_role("button", name="保存", exact=True).click()
        expect(page.get_by_role("status")).to_have_text("已保存。")
        row = page.get_by_role("row").filter(has=page.get_by_role("link", name=name))
        expect(row.get_by_role("cell", name="88", exact=True)).to_be_visible()
        page.get_by_role("link", name=name).click()
        page.get_by_role("button", name="删除等级").click()
        expect(page.get_by_role("status")).to_have_text("已删除。")
        expect(page.get_by_role("link", name=name)).to_have_count(0)


class TestCheckinRules:
    def test_the_preview_shows_each_day_of_the_cycle_and_follows_the_form(self, page: Page) -> None:
        open_as(page, "operator", "/console/setup/checkin")
        preview = page.get_by_role("table", name=re.compile("周期里每天签到可得的积分"))
        days = preview.get_by_role("rowheader", name=re.compile(r"^第 \d+ 天$"))
        expect(days).to_have_count(int(page.get_by_label("连签周期（天）").input_value()))
        page.get_by_label("连签周期（天）").fill("7")
        expect(days).to_have_count(7)
        page.get_by_label("每日基础积分").fill("12")
        day_one = preview.get_by_role("row", name=re.compile("^第 1 天"))
        expect(day_one.get_by_role("cell").last).to_have_text("12")

    def test_saved_rules_apply_from_tomorrow(self, page: Page) -> None:
        open_as(page, "owner", "/console/setup/checkin")
        page.get_by_label("连签周期（天）").fill("7")
        page.get_by_label("每日基础积分").fill("6")
        page.get_by_label("奖励 1：连签第几天").fill("5")
        page.get_by_label("奖励 1：奖励积分").fill("15")
        page.get_by_role("button", name="保存（明日生效）").click()
        expect(page.get_by_role("status")).to_have_text("已保存。")
        tomorrow = page.get_by_role("region", name="明日起的规则")
        expect(tomorrow).to_contain_text("第 5 天 +15")
        expect(tomorrow.get_by_text("6", exact=True)).to_be_visible()


class TestCouponTemplates:
    def test_the_owner_creates_a_template_and_it_shows_in_the_list(self, page: Page) -> None:
        open_as(page, "owner", "/console/setup/coupons")
        title = unique("周末满百减二十")
        page.get_by_role("link", name="新建优惠券").click()
        page.get_by_label("券名称").fill(title)
        page.get_by_label("券类型").select_option(label="现金券（满减）")
        page.get_by_label("减免金额（元）").fill("20")
        page.get_by_label("使用门槛（元）").fill("100")
        page.get_by_label("总库存（张）").fill("50")
        page.get_by_label("每人限领（张）").fill("2")
        page.get_by_label("固定日期内有效").check()
        page.get_by_label("生效日期").fill("2030-01-01")
        page.get_by_label("最后可用日期").fill("2030-01-31")
        page.get_by_label("银卡会员").check()
        page.get_by_label("使用说明").fill("周末全场可用。")
        page.get_by_role("button", name="保存", exact=True).click()
        expect(page.get_by_role("status")).to_have_text("已创建。")
        expect(page.get_by_role("heading", name=title)).to_be_visible()
        page.get_by_role("link", name="返回优惠券").click()
        row = page.get_by_role("row").filter(has=page.get_by_role("link", name=title))
        expect(row).to_contain_text("满100减20")
        expect(row).to_contain_text("50 / 50")

    def test_a_rule_across_fields_is_refused_next_to_its_field(
        self, page: Page, console_errors: ConsoleErrors
    ) -> None:
        open_as(page, "operator", "/console/setup/coupons/new")
        page.get_by_label("券名称").fill(unique("折扣"))
        page.get_by_label("券类型").select_option(label="折扣券")
        page.get_by_label("折扣：减免百分比").fill("120")
        page.get_by_role("button", name="保存", exact=True).click()
        expect(page.get_by_label("折扣：减免百分比")).to_have_accessible_description(
            re.compile("1 到 99")
        )
        console_errors.expect(400)

    def test_stock_is_added_and_the_template_stopped(self, page: Page) -> None:
        open_as(page, "operator", "/console/setup/coupons/new")
        accept_dialogs(page)
        title = unique("限量券")
        page.get_by_label("券名称").fill(title)
        page.get_by_label("减免金额（元）").fill("5")
        page.get_by_label("总库存（张）").fill("10")
        page.get_by_role("button", name="保存", exact=True).click()
        page.get_by_label("增加库存（张）").fill("15")
        page.get_by_role("button", name="增加库存").click()
        expect(page.get_by_role("status")).to_have_text("库存已更新。")
        standing = page.get_by_role("region", name="发放情况")
        expect(standing).to_contain_text("25 / 25")
        page.get_by_role("button", name="停止发放").click()
        expect(page.get_by_role("status")).to_have_text("已停止发放。")
        expect(standing).to_contain_text("已停止")


def create_item(page: Page, title: str, kind: str, price: int, stock: int | None = None) -> None:
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="积分商城").click()
    page.get_by_role("link", name="新建商品").click()
    page.get_by_label("商品名称").fill(title)
    page.get_by_label("商品类型").select_option(label=kind)
    page.get_by_label("兑换积分").fill(str(price))
    if stock is not None:
        page.get_by_label("初始库存").fill(str(stock))
    page.get_by_label("图片地址").fill("https://example.com/mall/item.jpg")
    page.get_by_label("上架").check()
    page.get_by_role("button", name="保存", exact=True).click()
    expect(page.get_by_role("status")).to_have_text("已创建。")


class TestMallItems:
    def test_the_owner_creates_an_item_and_it_shows_in_the_list(self, page: Page) -> None:
        open_as(page, "owner", "/console/setup/mall")
        title = unique("帆布袋")
        create_item(page, title, "实物", price=800, stock=30)
        page.get_by_role("link", name="返回积分商城").click()
        row = page.get_by_role("row").filter(has=page.get_by_role("link", name=title))
        expect(row).to_contain_text("实物")
        expect(row.get_by_role("cell", name="800", exact=True)).to_be_visible()
        expect(row).to_contain_text("已上架")

    def test_uploading_a_csv_of_codes_raises_a_virtual_items_stock(self, page: Page) -> None:
        open_as(page, "operator", "/console/setup/mall")
        create_item(page, unique("会员月卡"), "虚拟兑换码", price=1000)
        stock = page.get_by_role("region", name="库存")
        expect(stock.get_by_role("definition").first).to_have_text("0")
        page.get_by_label("兑换码文件（CSV）").set_input_files(
            files=[
                FilePayload(
                    name="codes.csv",
                    mimeType="text/csv",
                    buffer=b"code,batch\nVIP-0001,1\nVIP-0002,1\nVIP-0002,1\n\nVIP-0003,2\n",
                )
            ]
        )
        page.get_by_role("button", name="上传兑换码").click()
        expect(page.get_by_role("status")).to_have_text(
            "已添加 3 个兑换码，跳过 1 个（重复或已存在）。"
        )
        expect(stock.get_by_role("definition").first).to_have_text("3")

    def test_the_stock_of_a_physical_item_is_changed(self, page: Page) -> None:
        open_as(page, "operator", "/console/setup/mall")
        create_item(page, unique("马克杯"), "实物", price=500, stock=5)
        page.get_by_label("库存增减（件）").fill("7")
        page.get_by_role("button", name="调整库存").click()
        expect(page.get_by_role("status")).to_have_text("库存已更新。")
        stock = page.get_by_role("region", name="库存")
        expect(stock.get_by_role("definition").first).to_have_text("12")


def api(page: Page, method: str, path: str, body: Any = None, **headers: str) -> Any:
    response = page.request.fetch(path, method=method, data=body, headers=headers)
    assert response.ok, f"{method} {path}: {response.status} {response.text()}"
    return response.json()


def new_phone() -> str:
    return f"139{random.randrange(10**8):08d}"


def masked(phone: str) -> str:
    return f"{phone[:3]}****{phone[-4:]}"


def physical_order(page: Page, phone: str) -> int:
    """A new member with points redeems a physical item through the mini-program API."""
    openid = unique("console-setup-")
    code = api(page, "POST", "/fake-wechat/_demo/login-code", {"openid": openid})["code"]
    session = api(page, "POST", "/api/v1/session", {"code": code})
    member = {"Authorization": f"Bearer {session['token']}"}
    phone_code = api(page, "POST", "/fake-wechat/_demo/phone-code", {"phone": phone})["code"]
    api(
        page,
        "POST",
        "/api/v1/card",
        {"name": "李四", "birthday": "1992-03-04", "phone_code": phone_code},
        **member,
    )
    owner = api(
        page, "POST", "/admin/api/v1/login", {"username": "owner", "password": DEMO_PASSWORD}
    )["token"]
    api(
        page,
        "POST",
        f"/admin/api/v1/members/{session['member']['id']}/points-adjustments",
        {"amount": 5000, "reason": "console test"},
        Authorization=f"Bearer {owner}",
    )
    items = api(page, "GET", "/api/v1/mall/items?kind=physical&limit=100", **member)["items"]
    item = next(item for item in items if item["title"] == "品牌随行杯")
    address = {
        "recipient": "李四",
        "phone": phone,
        "region": "上海市 徐汇区",
        "detail": "漕溪北路 1 号",
    }
    order = api(
        page,
        "POST",
        "/api/v1/mall/redemptions",
        {"item_id": item["id"], "quantity": 1, "address": address},
        **member,
        **{"Idempotency-Key": uuid.uuid4().hex},
    )
    return int(order["id"])


class TestMallOrders:
    def test_a_pending_order_is_shipped(self, page: Page) -> None:
        phone = new_phone()
        order_id = physical_order(page, phone)
        open_as(page, "operator", "/console/setup/orders")
        page.get_by_role("navigation", name="按状态筛选").get_by_role("link", name="待发货").click()
        page.get_by_role("link", name=f"订单 {order_id}", exact=True).click()
        expect(page.get_by_role("region", name="收货地址")).to_contain_text(masked(phone))
        expect(page.get_by_role("button", name="查看完整手机号")).to_have_count(0)
        page.get_by_label("快递公司").fill("顺丰速运")
        page.get_by_label("快递单号").fill("SF1234567890")
        page.get_by_role("button", name="确认发货").click()
        expect(page.get_by_role("status")).to_have_text("已发货。")
        facts = page.get_by_role("region", name="订单信息")
        expect(facts).to_contain_text("SF1234567890")
        page.get_by_role("button", name="确认收货").click()
        expect(page.get_by_role("status")).to_have_text("已确认收货。")
        expect(facts).to_contain_text("已完成")

    def test_a_cancelled_order_gives_the_points_back(self, page: Page) -> None:
        order_id = physical_order(page, new_phone())
        open_as(page, "operator", f"/console/setup/orders/{order_id}")
        accept_dialogs(page)
        page.get_by_label("取消原因").fill("缺货")
        page.get_by_role("button", name="取消订单并退回积分").click()
        expect(page.get_by_role("status")).to_have_text("订单已取消，积分和库存已退回。")
        expect(page.get_by_role("region", name="订单信息")).to_contain_text("已取消")

    def test_the_owner_reveals_the_shipping_phone(self, page: Page) -> None:
        phone = new_phone()
        order_id = physical_order(page, phone)
        open_as(page, "owner", f"/console/setup/orders/{order_id}")
        address = page.get_by_role("region", name="收货地址")
        expect(address).to_contain_text(masked(phone))
        page.get_by_role("button", name="查看完整手机号").click()
        expect(address).to_contain_text(phone)


class TestRoles:
    @pytest.mark.parametrize("path", SETUP_PAGES)
    def test_a_cashier_may_not_open_a_set_up_page(
        self, page: Page, console_errors: ConsoleErrors, path: str
    ) -> None:
        open_as(page, "cashier", path)
        expect(page).to_have_url(re.compile(re.escape(path) + "$"))
        expect(page.get_by_role("alert")).to_have_text("您的角色不能打开这个页面。")
        assert page.request.get(path).status == 403
        console_errors.expect(403)


class TestCodesFile:
    """How an uploaded file of codes is read (before any code reaches the item's pool)."""

    def test_one_code_per_line(self) -> None:
        assert read_codes(b"A-1\r\nA-2\n\n  A-3  \n") == ["A-1", "A-2", "A-3"]

    def test_the_code_column_of_a_csv_with_a_header(self) -> None:
        content = "\ufeffbatch,Code\n1,X-1\n1,X-2\n".encode()
        assert read_codes(content) == ["X-1", "X-2"]

    def test_a_file_saved_by_a_chinese_spreadsheet(self) -> None:
        assert read_codes("code,备注\nY-1,首批\n".encode("gb18030")) == ["Y-1"]

    @pytest.mark.parametrize(
        ("content", "code"),
        [
            (b"", "codes_file_empty"),
            (b"code\n\n", "codes_file_empty"),
            (b"\xff\xfe\x00\xd8", "codes_file_unreadable"),
            (b"ok\n" + b"x" * 65 + b"\n", "codes_file_bad_code"),
            (b"batch,code\n1,\n", "codes_file_bad_code"),
        ],
    )
    def test_a_file_without_good_codes_is_refused(self, content: bytes, code: str) -> None:
        with pytest.raises(ValidationFailed) as refused:
            read_codes(content)
        assert refused.value.code == code
