"""会员标签 in the console, as operators use it: making a tag, tagging a member from their page,
and tagging members in bulk from a CSV of card numbers with its outcome and report.

The demo service is shared by the whole session: each test makes its own tag and members.
"""

from __future__ import annotations

import secrets

from playwright.sync_api import FilePayload, Page, expect

from tests.console.conftest import DEMO_PASSWORD, ConsoleErrors
from tests.console.test_members import new_name, open_card


def sign_in_at(page: Page, path: str, username: str = "operator") -> None:
    page.goto(path)
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_load_state()


def make_tag(page: Page, name: str) -> None:
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="会员标签").click()
    page.get_by_label("标签名称").fill(name)
    page.get_by_label("颜色").select_option(label="绿")
    page.get_by_role("button", name="创建标签").click()
    expect(page.get_by_role("status")).to_have_text("标签已创建。")


class TestTagsPage:
    def test_a_tag_is_made_and_a_second_of_the_same_name_refused(
        self, page: Page, console_url: str, console_errors: ConsoleErrors
    ) -> None:
        name = f"回购客{secrets.token_hex(2)}"
        sign_in_at(page, f"{console_url}/console/tags")
        make_tag(page, name)
        expect(page.get_by_role("heading", level=1)).to_contain_text(name)
        page.get_by_role("link", name="返回会员标签").click()
        row = page.get_by_role("row").filter(has=page.get_by_role("link", name=name))
        expect(row.get_by_role("cell", name="0", exact=True)).to_be_visible()
        page.get_by_label("标签名称").fill(f"  {name.upper()} ")
        page.get_by_role("button", name="创建标签").click()
        expect(page.get_by_role("alert")).to_have_text("已有同名的标签（不区分大小写）。")
        console_errors.expect(409)


class TestMemberPageTags:
    def test_an_operator_tags_a_member_and_takes_the_tag_off_again(
        self, page: Page, console_url: str
    ) -> None:
        tag = f"高净值{secrets.token_hex(2)}"
        member = open_card(console_url, new_name("标签"))
        sign_in_at(page, f"{console_url}/console/tags")
        make_tag(page, tag)
        page.goto(f"{console_url}/console/members/{member['id']}")
        tags = page.get_by_role("region", name="标签")
        tags.get_by_label("添加标签").select_option(label=tag)
        tags.get_by_role("button", name="添加").click()
        expect(page.get_by_role("status")).to_have_text("已打上标签。")
        expect(tags.get_by_role("link", name=tag)).to_be_visible()
        tags.get_by_role("button", name=f"移除标签 {tag}").click()
        expect(page.get_by_role("status")).to_have_text("已移除标签。")
        expect(tags.get_by_role("link", name=tag)).to_have_count(0)


class TestBulkTagging:
    def test_a_file_beyond_the_body_limit_is_refused_in_words(
        self, page: Page, console_url: str, console_errors: ConsoleErrors
    ) -> None:
        tag = f"大文件{secrets.token_hex(2)}"
        sign_in_at(page, f"{console_url}/console/tags")
        make_tag(page, tag)
        upload = page.get_by_role("region", name="批量打标签")
        upload.get_by_label("卡号文件（CSV）").set_input_files(
            files=[FilePayload(name="大.csv", mimeType="text/csv", buffer=b"0" * (2 << 20))]
        )
        upload.get_by_role("button", name="上传并执行").click()
        expect(page.get_by_role("alert")).to_have_text(
            "上传的文件太大，请拆成几个较小的文件再上传。"
        )
        console_errors.expect(413)

    def test_a_csv_tags_the_members_it_names_and_reports_the_rest(
        self, page: Page, console_url: str
    ) -> None:
        tag = f"春季活动{secrets.token_hex(2)}"
        members = [open_card(console_url, new_name("批量")) for _ in range(2)]
        sign_in_at(page, f"{console_url}/console/tags")
        make_tag(page, tag)
        rows = [
            "卡号",
            members[0]["card_no"],
            "",
            members[1]["card_no"],
            "12345",
            members[0]["card_no"],
        ]
        upload = page.get_by_role("region", name="批量打标签")
        upload.get_by_label("卡号文件（CSV）").set_input_files(
            files=[
                FilePayload(
                    name="名单.csv",
                    mimeType="text/csv",
                    buffer=("\ufeff" + "\r\n".join(rows) + "\r\n").encode(),
                )
            ]
        )
        upload.get_by_role("button", name="上传并执行").click()
        expect(page.get_by_role("status")).to_have_text(f"已给 2 位会员打上标签“{tag}”。")
        summary = page.get_by_role("region", name="汇总")
        expect(summary).to_contain_text("卡号行数4")
        expect(summary).to_contain_text("卡号格式有误1")
        expect(summary).to_contain_text("重复的行1")
        problems = page.get_by_role("region", name="未处理的行")
        expect(problems.get_by_role("row")).to_have_count(3)
        with page.expect_download() as download:
            problems.get_by_role("link", name="下载未处理的行（CSV）").click()
        report = download.value.path().read_text(encoding="utf-8-sig")
        assert report.splitlines() == [
            "行号,卡号,原因,重复的行号",
            "5,12345,不是 16 位卡号,",
            f"6,{members[0]['card_no']},与前面的行重复,2",
        ]
        page.get_by_role("link", name=f"返回标签“{tag}”").click()
        expect(page.get_by_text("2 位会员有这个标签")).to_be_visible()
        members_table = page.get_by_role("region", name="有这个标签的会员")
        for member in members:
            expect(members_table.get_by_role("link", name=member["card_no"])).to_be_visible()
