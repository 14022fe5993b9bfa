"""提醒 in the console, as an operator works: writing a birthday rule key by key, previewing it
for a day, a key whose content WeChat would refuse, switching a rule off, the delivery log."""

from __future__ import annotations

import re
import time
import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

from playwright.sync_api import Locator, Page, expect

from console.i18n import catalogue
from handlers.reminders.fields import ANY_KEY, CATALOGUE, VALUE_RULES
from tests.console.conftest import DEMO_PASSWORD, ConsoleErrors
from wxmember.core.models.reminders import Channel, DeliveryState, ReminderKind

BIRTHDAY_MEMBER = "李小满"  # the demo member whose birthday is today


def open_as(page: Page, username: str, path: str, password: str = DEMO_PASSWORD) -> None:
    """Ask for a page, sign in on the way, and arrive on it."""
    page.goto(path)
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(re.compile(re.escape(path) + "$"))
    # The address changes when the page starts to arrive; its scripts run by the load event.
    page.wait_for_load_state()


def brand_today() -> str:
    return datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()


def unique(name: str) -> str:
    return f"{name}{uuid.uuid4().hex[:6]}"


def key(page: Page, name: str) -> Locator:
    """The part of the rule form for one template data key."""
    return page.get_by_role("group", name=name, exact=True)


def htmx_quiet(page: Page) -> None:
    """Wait until htmx has answered and settled every refresh: it binds the refreshed part's
    own triggers only when it settles (20 ms after the part appears, longer on a busy
    machine), and a change made before that would go unseen."""
    expect(page.locator(".htmx-request, .htmx-swapping, .htmx-settling")).to_have_count(0)


def write_fixed_text(page: Page, name: str, text: str) -> None:
    """Type a key's fixed text and leave the field, as an operator does before saving: leaving
    it refreshes the key (a click on 保存 would otherwise race that refresh, whose error line
    moves the button away between the press and the release)."""
    key(page, name).get_by_label("固定文字").fill(text)
    key(page, name).get_by_label("固定文字").press("Tab")
    htmx_quiet(page)


def list_keys(page: Page, keys: str) -> None:
    """Type the template's data keys; the form grows a part for each (settled on return)."""
    htmx_quiet(page)
    page.get_by_label("模板数据键").fill(keys)
    page.get_by_label("模板数据键").press("Tab")
    for name in re.findall(r"\b[a-z]+[0-9]+\b", keys):  # thing1, or {{thing1.DATA}} pasted
        expect(key(page, name)).to_be_visible()
    htmx_quiet(page)


def start_birthday_rule(page: Page, name: str, template_id: str) -> None:
    page.get_by_label("名称").fill(name)
    page.get_by_label("提醒类型").select_option(label="生日提醒")
    page.get_by_label("模板 ID").fill(template_id)
    page.get_by_label("发送时间").fill("23:59")
    page.get_by_label("提前天数").fill("0")


def write_simple_rule(page: Page, name: str) -> None:
    page.goto("/console/reminders/new")
    start_birthday_rule(page, name, "tpl-console-simple")
    list_keys(page, "name1")
    key(page, "name1").get_by_label("内容").select_option(label="会员姓名")
    page.get_by_role("button", name="保存规则").click()
    expect(page.get_by_role("status")).to_have_text("提醒规则已保存。")


class TestWriteABirthdayRule:
    def test_the_owner_writes_a_rule_and_previews_it_for_a_day(self, page: Page) -> None:
        open_as(page, "owner", "/console/reminders")
        page.get_by_role("link", name="新建提醒规则").click()
        name = unique("生日礼遇")
        start_birthday_rule(page, name, "tpl-console-birthday")
        page.get_by_label("礼品", exact=True).select_option(label="积分")
        page.get_by_label("赠送积分").fill("88")
        # pasted from the template's details in the WeChat back office
        list_keys(page, "会员 {{name1.DATA}}\n生日 {{date2.DATA}}\n备注 {{thing3.DATA}}")
        key(page, "name1").get_by_label("内容").select_option(label="会员姓名")
        key(page, "date2").get_by_label("内容").select_option(label="生日日期")
        key(page, "thing3").get_by_label("内容").select_option(label="固定文字…")
        write_fixed_text(page, "thing3", "生日快乐，送您88积分")
        page.get_by_role("button", name="保存规则").click()

        expect(page.get_by_role("status")).to_have_text("提醒规则已保存。")
        rule = page.get_by_role("row", name=re.compile(name))
        expect(rule).to_contain_text("88 积分")
        rule.get_by_role("link", name="预览").click()
        page.get_by_label("发送日期").fill(brand_today())
        page.get_by_role("button", name="预览", exact=True).click()

        recipients = page.get_by_role("group", name="收件人数")
        expect(recipients).to_contain_text(re.compile(r"[1-9]"))
        messages = page.get_by_role("table", name="将发送的消息")
        listed = messages.get_by_role("row").count() - 1  # the header row
        assert int(recipients.inner_text().split()[-1]) >= listed > 0
        greeting = messages.get_by_role("row", name=re.compile(BIRTHDAY_MEMBER))
        expect(greeting).to_contain_text("生日快乐，送您88积分")
        expect(greeting).to_contain_text(re.compile(r"\d{4}年\d{1,2}月\d{1,2}日"))

    def test_the_form_opens_again_with_the_mapping_as_saved(self, page: Page) -> None:
        open_as(page, "operator", "/console/reminders/new")
        name = unique("生日问候")
        start_birthday_rule(page, name, "tpl-console-edit")
        list_keys(page, "name1 thing2")
        key(page, "name1").get_by_label("内容").select_option(label="会员姓名")
        key(page, "thing2").get_by_label("内容").select_option(label="会员等级")
        key(page, "thing2").get_by_label("超长时截断").check()
        page.get_by_role("button", name="保存规则").click()
        page.get_by_role("row", name=re.compile(name)).get_by_role("link", name="编辑").click()
        expect(page.get_by_label("模板数据键")).to_have_value("name1 thing2")
        expect(key(page, "thing2").get_by_label("内容")).to_have_value("tier_name")
        expect(key(page, "thing2").get_by_label("超长时截断")).to_be_checked()


class TestAKeyWeChatWouldRefuse:
    def test_the_refusal_stands_next_to_its_key_as_soon_as_it_is_chosen(self, page: Page) -> None:
        open_as(page, "operator", "/console/reminders/new")
        start_birthday_rule(page, unique("生日提醒"), "tpl-console-refused")
        list_keys(page, "name1 date2")
        key(page, "name1").get_by_label("内容").select_option(label="会员姓名")
        key(page, "date2").get_by_label("内容").select_option(label="会员姓名")
        expect(key(page, "date2")).to_contain_text("date 类的键不能显示「会员姓名」。")
        expect(key(page, "name1")).not_to_contain_text("不能显示")

    def test_a_fixed_text_too_long_for_a_thing_key_is_not_saved(
        self, page: Page, console_errors: ConsoleErrors
    ) -> None:
        open_as(page, "operator", "/console/reminders/new")
        name = unique("生日提醒")
        start_birthday_rule(page, name, "tpl-console-long")
        list_keys(page, "thing1")
        key(page, "thing1").get_by_label("内容").select_option(label="固定文字…")
        write_fixed_text(page, "thing1", "祝您生日快乐，本月到店消费还可以享受双倍积分哦")
        # refused next to its key as soon as the text is left, and refused again on saving
        expect(key(page, "thing1")).to_contain_text("固定文字不符合要求")
        page.get_by_role("button", name="保存规则").click()
        expect(page.get_by_role("alert")).to_have_text("规则没有保存，请按提示修改。")
        console_errors.expect(400)
        expect(key(page, "thing1")).to_contain_text("固定文字不符合要求：thing 事物：20 个字以内。")
        page.goto("/console/reminders")
        expect(page.get_by_role("row", name=re.compile(name))).to_have_count(0)


class TestSwitchingARuleOff:
    def test_a_disabled_rule_says_so_and_can_be_enabled_again(self, page: Page) -> None:
        open_as(page, "operator", "/console/reminders")
        name = unique("停用测试")
        write_simple_rule(page, name)
        rule = page.get_by_role("row", name=re.compile(name))
        expect(rule).to_contain_text("已启用")
        rule.get_by_role("button", name="停用").click()
        expect(rule).to_contain_text("已停用")
        page.reload()
        rule = page.get_by_role("row", name=re.compile(name))
        expect(rule).to_contain_text("已停用")
        expect(rule.get_by_role("button", name="启用")).to_be_visible()


class TestDeliveryLog:
    def test_filtering_by_state_and_the_chart_of_the_days(self, page: Page) -> None:
        open_as(page, "operator", "/console/reminders")
        page.get_by_role("link", name="发送记录").click()
        log = page.get_by_role("table", name="发送记录列表")
        # the demo greets today's birthday member within the scheduler's first minute
        deadline = time.monotonic() + 90
        while True:
            page.get_by_label("状态").select_option(label="已发送")
            page.get_by_role("button", name="筛选").click()
            if log.count() or time.monotonic() > deadline:
                break
            time.sleep(3)
        expect(log.get_by_role("cell", name="已发送", exact=True).first).to_be_visible()
        expect(log.get_by_role("cell", name="已跳过", exact=True)).to_have_count(0)
        expect(page.get_by_label("状态")).to_have_value("sent")

        chart = page.get_by_role("img", name="每日发送统计图")
        expect(chart).to_have_attribute("aria-busy", "false")
        box = chart.bounding_box()
        assert box is not None
        chart.hover(position={"x": box["width"] - 40, "y": box["height"] / 2})
        expect(page.get_by_text(re.compile(r"已发送：\d+"))).to_be_visible()
        with page.expect_download() as download:
            page.get_by_role("link", name="下载 CSV").click()
        lines = download.value.path().read_text(encoding="utf-8-sig").splitlines()
        assert lines[0] == "日期,待发送,发送中,已发送,已跳过,发送失败,合计"
        assert len(lines) == 1 + 14 and lines[-1].startswith(brand_today())


class TestEveryCodeHasItsWords:
    """What the reminder pages name by code (fields, kinds, states, ...) all have a text."""

    def test_the_catalogue_covers_the_codes_of_reminders(self) -> None:
        texts = catalogue()
        wanted = [
            *(f"reminders.fields.{name}" for name in CATALOGUE),
            *(f"reminders.value_classes.{klass}" for klass in [*VALUE_RULES, "enum", ANY_KEY]),
            *(f"reminders.kinds.{kind.value}" for kind in ReminderKind),
            *(f"reminders.channels.{channel.value}" for channel in Channel),
            *(f"reminders.states.{state.value}" for state in DeliveryState),
            *(f"reminders.preview_status.already_{state.value}" for state in DeliveryState),
        ]
        assert [key for key in wanted if key not in texts] == []
