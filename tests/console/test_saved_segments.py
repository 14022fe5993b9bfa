"""会员分群 in the console, as operators use it: building a filter with its live count and
sample updating as criteria change, saving it, finding it in the list with its count, and
deleting it.

The demo service is shared by the whole session: the segment's name is the test's own.
"""

from __future__ import annotations

import re
import secrets

from playwright.sync_api import Page, expect

from tests.console.conftest import ConsoleErrors
from tests.console.test_tags import sign_in_at

LIVE = re.compile(r"^共 \d+ 位会员$")


class TestSavedSegmentsPage:
    def test_a_filter_is_counted_live_saved_listed_and_deleted(
        self, page: Page, console_url: str, console_errors: ConsoleErrors
    ) -> None:
        name = f"高积分{secrets.token_hex(2)}"
        sign_in_at(page, f"{console_url}/console/segments")
        expect(page.get_by_role("heading", level=1)).to_have_text("会员分群")
        page.get_by_role("link", name="新建分群").click()
        live = page.get_by_role("region", name="当前符合条件的会员")
        count = live.get_by_role("status")
        expect(count).to_have_text(LIVE)
        everyone = count.inner_text()
        assert everyone != "共 0 位会员"  # the demo's card holders
        expect(live.get_by_role("row")).not_to_have_count(1)

        points = page.get_by_role("group", name="积分余额")
        points.get_by_label("最小").fill("999999999")
        expect(count).to_have_text("共 0 位会员")
        expect(live.get_by_role("cell", name="没有会员符合这些条件。")).to_be_visible()
        points.get_by_label("最小").fill("")
        expect(count).to_have_text(everyone)

        page.get_by_role("group", name="积分余额").get_by_label("最大").fill("0")
        page.get_by_label("分群名称").fill(name)
        page.get_by_role("button", name="保存分群").click()
        expect(page.get_by_role("status").first).to_have_text("分群已保存。")
        expect(page.get_by_role("heading", level=1)).to_have_text(name)
        expect(page.get_by_role("group", name="积分余额").get_by_label("最大")).to_have_value("0")
        expect(count).to_have_text(LIVE)
        saved = count.inner_text()

        page.get_by_role("link", name="返回会员分群").click()
        row = page.get_by_role("row").filter(has=page.get_by_role("link", name=name))
        expect(row.get_by_role("cell").nth(1)).to_have_text(re.sub(r"\D", "", saved))

        row.get_by_role("link", name=name).click()
        page.get_by_role("button", name="删除分群").click()
        expect(page.get_by_role("status")).to_have_text(f"已删除分群“{name}”。")
        expect(page.get_by_role("link", name=name)).to_have_count(0)

    def test_a_bad_range_is_shown_and_nothing_saved(
        self, page: Page, console_url: str, console_errors: ConsoleErrors
    ) -> None:
        sign_in_at(page, f"{console_url}/console/segments/new")
        points = page.get_by_role("group", name="积分余额")
        points.get_by_label("最小").fill("10")
        points.get_by_label("最大").fill("5")
        expect(
            page.get_by_role("region", name="当前符合条件的会员").get_by_role("alert")
        ).to_have_text("“积分余额”填写有误，请检查。")
        page.get_by_label("分群名称").fill(f"错误{secrets.token_hex(2)}")
        page.get_by_role("button", name="保存分群").click()
        expect(page.get_by_role("alert").first).to_have_text("“积分余额”填写有误，请检查。")
        console_errors.expect(400)
