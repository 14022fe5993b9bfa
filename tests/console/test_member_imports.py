"""导入会员 in the console: an operator uploads a file of members moved in from another system,
reads the outcome and downloads the rows that were not imported."""

from __future__ import annotations

import secrets

from playwright.sync_api import FilePayload, Page, expect

from tests.console.test_tags import sign_in_at
from tests.member_import.kit import HEADER, card, phone, row


class TestMemberImportPage:
    def test_a_file_is_imported_and_its_refused_rows_downloaded(
        self, page: Page, console_url: str
    ) -> None:
        n = secrets.randbelow(10**7)
        rows = [HEADER, row(n, phone=phone(n)), row(n + 1, tier="不存在的等级")]
        sign_in_at(page, f"{console_url}/console/tags")
        nav = page.get_by_role("navigation", name="主导航")
        nav.get_by_role("link", name="导入会员").click()
        upload = page.get_by_role("region", name="上传会员文件")
        upload.get_by_label("会员文件（CSV）").set_input_files(
            files=[
                FilePayload(
                    name="旧系统会员.csv",
                    mimeType="text/csv",
                    buffer=("\ufeff" + "\r\n".join(rows) + "\r\n").encode(),
                )
            ]
        )
        upload.get_by_role("button", name="上传并导入").click()
        expect(page.get_by_role("status")).to_have_text("已导入 1 位会员。")
        summary = page.get_by_role("region", name="汇总")
        expect(summary).to_contain_text("数据行数2")
        expect(summary).to_contain_text("未导入的行1")
        problems = page.get_by_role("region", name="未处理的行")
        with page.expect_download() as download:
            problems.get_by_role("link", name="下载未处理的行（CSV）").click()
        report = download.value.path().read_text(encoding="utf-8-sig")
        assert report.splitlines() == [
            "行号,卡号,原因,说明",
            f"3,{card(n + 1)},没有这个会员等级,不存在的等级",
        ]
