"""`/admin/api/v1/member-imports`: the upload, the imports and the report of refused rows;
owners and operators only, file-level refusals a 4xx with their code."""

from __future__ import annotations

import csv
import io

import pytest
from aiohttp.test_utils import TestClient

from handlers.member_import import reading
from tests.conftest import StaffLogin
from tests.factories import entry_tier
from tests.member_import.kit import card, file_of, row, the_store
from tests.support.http import error_code
from wxmember.core.models import AuditEntry, Member
from wxmember.core.models.member_imports import MemberImport

API = "/admin/api/v1"


class TestPermissions:
    @pytest.mark.parametrize(
        ("method", "path"),
        [
            ("POST", "/member-imports"),
            ("GET", "/member-imports"),
            ("GET", "/member-imports/1"),
            ("GET", "/member-imports/1/problems.csv"),
        ],
    )
    async def test_cashiers_and_anonymous_callers_are_refused(
        self, client: TestClient, login_as: StaffLogin, method: str, path: str
    ) -> None:
        cashier = await login_as("cashier")
        response = await client.request(method, API + path, headers=cashier, json={"csv": "x"})
        assert (response.status, await error_code(response)) == (403, "role_not_allowed")
        assert (await client.request(method, API + path)).status == 401


class TestImportMembersRoute:
    async def test_imports_and_serves_the_summary_and_the_report(
        self, client: TestClient, login_as: StaffLogin
    ) -> None:
        await entry_tier()
        await the_store()
        operator = await login_as("operator")
        body = {"csv": file_of(row(1), row(2, tier="铂金")), "filename": "旧系统.csv"}
        response = await client.post(f"{API}/member-imports", json=body, headers=operator)
        assert response.status == 201, await response.text()
        summary = await response.json()
        assert (summary["filename"], summary["status"], summary["created"], summary["refused"]) == (
            "旧系统.csv",
            "finished",
            1,
            1,
        )
        assert await Member.filter(card_no=card(1)).exists()
        assert await AuditEntry.filter(action="member.import").count() == 1

        listed = await (await client.get(f"{API}/member-imports", headers=operator)).json()
        assert [item["id"] for item in listed["items"]] == [summary["id"]]
        report = await client.get(
            f"{API}/member-imports/{summary['id']}/problems.csv", headers=operator
        )
        assert report.status == 200
        assert report.headers["Content-Type"].startswith("text/csv")
        text = (await report.read()).decode("utf-8-sig")
        assert list(csv.reader(io.StringIO(text)))[1] == ["3", card(2), "unknown_tier", "铂金"]

    @pytest.mark.parametrize(
        ("text", "status", "code"),
        [
            ("", 400, "csv_empty"),
            ("name\n张三\n", 400, "import_columns_missing"),
            ("phone\n" + "1" * 2_001, 413, "csv_too_large"),
        ],
    )
    async def test_a_file_refused_as_a_whole_is_a_4xx_and_writes_nothing(
        self,
        client: TestClient,
        login_as: StaffLogin,
        monkeypatch: pytest.MonkeyPatch,
        text: str,
        status: int,
        code: str,
    ) -> None:
        monkeypatch.setattr(reading, "UPLOAD_MAX_CHARS", 2_000)
        await entry_tier()
        owner = await login_as("owner")
        response = await client.post(f"{API}/member-imports", json={"csv": text}, headers=owner)
        assert (response.status, await error_code(response)) == (status, code)
        assert not await MemberImport.exists()

    async def test_an_unknown_import_is_404(self, client: TestClient, login_as: StaffLogin) -> None:
        owner = await login_as("owner")
        for path in ("/member-imports/999", "/member-imports/999/problems.csv"):
            response = await client.get(API + path, headers=owner)
            assert (response.status, await error_code(response)) == (
                404,
                "member_import_not_found",
            )
