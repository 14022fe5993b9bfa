"""`/admin/api/v1/tags`, a member's tags and bulk tagging through the staff API: owners and
operators only, every refusal a 4xx with its code, every write audited."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from handlers.tags import imports
from tests.conftest import StaffLogin
from tests.support.http import error_code
from tests.tags.kit import carded_member, csv_of
from wxmember.core.models import AuditEntry
from wxmember.core.models.tags import MemberTag, Tag, TagImport

API = "/admin/api/v1"


async def created_tag(client: TestClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    response = await client.post(f"{API}/tags", json={"name": "VIP"} | body, headers=headers)
    assert response.status == 201, await response.text()
    return dict(await response.json())


class TestPermissions:
    @pytest.mark.parametrize(
        ("method", "path"),
        [
            ("GET", "/tags"),
            ("POST", "/tags"),
            ("PATCH", "/tags/1"),
            ("DELETE", "/tags/1"),
            ("GET", "/tags/1/members"),
            ("POST", "/tags/1/imports"),
            ("GET", "/tag-imports/1/problems.csv"),
            ("GET", "/members/1/tags"),
            ("PUT", "/members/1/tags/1"),
            ("DELETE", "/members/1/tags/1"),
        ],
    )
    async def test_cashiers_are_refused_and_anonymous_callers_too(
        self, client: TestClient, login_as: StaffLogin, method: str, path: str
    ) -> None:
        cashier = await login_as("cashier")
        response = await client.request(method, API + path, headers=cashier, json={"name": "x"})
        assert response.status == 403
        assert await error_code(response) == "role_not_allowed"
        response = await client.request(method, API + path)
        assert response.status == 401

    async def test_operators_and_owners_manage_tags(
        self, client: TestClient, login_as: StaffLogin
    ) -> None:
        for role in ("operator", "owner"):
            tag = await created_tag(client, await login_as(role), name=f"{role} 的标签")
            assert tag["members"] == 0


class TestTagsRoutes:
    async def test_create_show_rename_and_list_with_counts(
        self, client: TestClient, login_as: StaffLogin
    ) -> None:
        headers = await login_as("operator", "olga")
        tag = await created_tag(client, headers, colour="#00AA00", description="高价值")
        assert tag | {"id": 0, "created_at": ""} == {
            "id": 0,
            "name": "VIP",
            "colour": "#00aa00",
            "description": "高价值",
            "created_at": "",
            "members": 0,
        }
        member = await carded_member()
        put = await client.put(f"{API}/members/{member.id}/tags/{tag['id']}", headers=headers)
        assert put.status == 201
        renamed = await client.patch(
            f"{API}/tags/{tag['id']}", json={"name": "超级VIP"}, headers=headers
        )
        assert renamed.status == 200
        assert (await renamed.json())["members"] == 1
        shown = await (await client.get(f"{API}/tags/{tag['id']}", headers=headers)).json()
        assert (shown["name"], shown["members"]) == ("超级VIP", 1)
        await created_tag(client, headers, name="新客")
        listed = await (await client.get(f"{API}/tags?limit=1", headers=headers)).json()
        assert [item["name"] for item in listed["items"]] == ["新客"]
        rest = await client.get(f"{API}/tags?cursor={listed['next_cursor']}", headers=headers)
        assert [(i["name"], i["members"]) for i in (await rest.json())["items"]] == [("超级VIP", 1)]

    @pytest.mark.parametrize(
        ("body", "code"),
        [
            ({"name": ""}, "invalid_name"),
            ({"name": "x" * 33}, "invalid_name"),
            ({"name": "VIP", "colour": "red"}, "invalid_colour"),
            ({"name": "VIP", "description": "x" * 201}, "invalid_description"),
            ({"name": "VIP", "rank": 1}, "invalid_rank"),
            ({}, "invalid_name"),
        ],
    )
    async def test_bad_fields_are_400_with_their_code(
        self, client: TestClient, login_as: StaffLogin, body: dict[str, Any], code: str
    ) -> None:
        response = await client.post(f"{API}/tags", json=body, headers=await login_as("owner"))
        assert response.status == 400
        assert await error_code(response) == code
        assert not await Tag.exists()

    async def test_a_taken_name_is_409_on_create_and_rename(
        self, client: TestClient, login_as: StaffLogin
    ) -> None:
        headers = await login_as("owner")
        await created_tag(client, headers, name="VIP")
        other = await created_tag(client, headers, name="新客")
        response = await client.post(f"{API}/tags", json={"name": " vip "}, headers=headers)
        assert (response.status, await error_code(response)) == (409, "tag_name_taken")
        response = await client.patch(
            f"{API}/tags/{other['id']}", json={"name": "Vip"}, headers=headers
        )
        assert (response.status, await error_code(response)) == (409, "tag_name_taken")

    async def test_unknown_tags_are_404(self, client: TestClient, login_as: StaffLogin) -> None:
        headers = await login_as("owner")
        for method, path in (
            ("GET", "/tags/9"),
            ("PATCH", "/tags/9"),
            ("DELETE", "/tags/9"),
            ("GET", "/tags/9/members"),
            ("GET", "/tags/9/imports"),
        ):
            response = await client.request(method, API + path, headers=headers, json={})
            assert (response.status, await error_code(response)) == (404, "tag_not_found")

    async def test_deleting_a_tag_in_use_reports_how_many_members_lost_it(
        self, client: TestClient, login_as: StaffLogin
    ) -> None:
        headers = await login_as("operator")
        tag = await created_tag(client, headers)
        for _ in range(2):
            member = await carded_member()
            await client.put(f"{API}/members/{member.id}/tags/{tag['id']}", headers=headers)
        response = await client.delete(f"{API}/tags/{tag['id']}", headers=headers)
        assert await response.json() == {"id": tag["id"], "name": "VIP", "members_untagged": 2}
        assert not await MemberTag.exists()
        assert (await AuditEntry.get(action="tag.delete")).after == {"members_untagged": 2}


class TestMemberTagRoutes:
    async def test_tag_twice_list_and_untag(self, client: TestClient, login_as: StaffLogin) -> None:
        headers = await login_as("operator", "olga")
        tag, member = await created_tag(client, headers), await carded_member()
        path = f"{API}/members/{member.id}/tags/{tag['id']}"
        first = await client.put(path, headers=headers)
        assert first.status == 201
        body = await first.json()
        assert (body["tag"]["name"], body["tagged_by"]) == ("VIP", "olga")
        again = await client.put(path, headers=headers)
        assert again.status == 200
        assert (await again.json())["tagged_at"] == body["tagged_at"]
        listed = await (await client.get(f"{API}/members/{member.id}/tags", headers=headers)).json()
        assert [item["tag"]["id"] for item in listed["items"]] == [tag["id"]]
        members = await client.get(f"{API}/tags/{tag['id']}/members", headers=headers)
        page = await members.json()
        assert [item["member"]["card_no"] for item in page["items"]] == [member.card_no]
        assert page["next_cursor"] is None
        removed = await client.delete(path, headers=headers)
        assert await removed.json() == {"removed": True}
        removed = await client.delete(path, headers=headers)
        assert await removed.json() == {"removed": False}
        actions = await AuditEntry.filter(target_type="member").values_list("action", flat=True)
        assert sorted(actions) == ["member.tag", "member.untag"]

    async def test_unknown_member_or_tag_is_404(
        self, client: TestClient, login_as: StaffLogin
    ) -> None:
        headers = await login_as("owner")
        tag, member = await created_tag(client, headers), await carded_member()
        for path, code in (
            (f"/members/99999/tags/{tag['id']}", "member_not_found"),
            (f"/members/{member.id}/tags/99999", "tag_not_found"),
        ):
            for method in ("PUT", "DELETE"):
                response = await client.request(method, API + path, headers=headers)
                assert (response.status, await error_code(response)) == (404, code)
        response = await client.get(f"{API}/members/99999/tags", headers=headers)
        assert await error_code(response) == "member_not_found"


class TestImportRoutes:
    async def test_an_upload_its_summary_and_its_report(
        self, client: TestClient, login_as: StaffLogin
    ) -> None:
        headers = await login_as("operator", "olga")
        tag = await created_tag(client, headers)
        members = [await carded_member() for _ in range(2)]
        text = csv_of("卡号", *(m.card_no or "" for m in members), "1234", members[0].card_no or "")
        body = {"csv": text, "filename": "list.csv"}
        response = await client.post(f"{API}/tags/{tag['id']}/imports", json=body, headers=headers)
        assert response.status == 201, await response.text()
        summary = await response.json()
        assert {key: summary[key] for key in ("rows", "changed", "unchanged", "invalid")} == {
            "rows": 4,
            "changed": 2,
            "unchanged": 0,
            "invalid": 1,
        }
        assert (summary["duplicates"], summary["unknown"], summary["actor"]) == (1, 0, "olga")
        shown = await client.get(f"{API}/tag-imports/{summary['id']}", headers=headers)
        assert await shown.json() == summary
        listed = await client.get(f"{API}/tags/{tag['id']}/imports", headers=headers)
        assert [item["id"] for item in (await listed.json())["items"]] == [summary["id"]]
        report = await client.get(
            f"{API}/tag-imports/{summary['id']}/problems.csv", headers=headers
        )
        assert report.status == 200
        assert report.content_type == "text/csv"
        assert "attachment" in report.headers["Content-Disposition"]
        rows = list(csv.reader(io.StringIO((await report.text()).removeprefix("\ufeff"))))
        assert rows[1:] == [
            ["4", "1234", "invalid", ""],
            ["5", members[0].card_no, "duplicate", "2"],
        ]

        again = await client.post(f"{API}/tags/{tag['id']}/imports", json=body, headers=headers)
        assert ((await again.json())["changed"], (await again.json())["unchanged"]) == (0, 2)
        remove = body | {"action": "remove"}
        gone = await client.post(f"{API}/tags/{tag['id']}/imports", json=remove, headers=headers)
        assert (await gone.json())["changed"] == 2
        assert not await MemberTag.exists()

    async def test_a_file_beyond_the_row_limit_is_413_and_writes_nothing(
        self, client: TestClient, login_as: StaffLogin
    ) -> None:
        headers = await login_as("owner")
        tag = await created_tag(client, headers)
        member = await carded_member()
        body = {"csv": csv_of(*[member.card_no or ""] * (imports.MAX_ROWS + 1))}
        response = await client.post(f"{API}/tags/{tag['id']}/imports", json=body, headers=headers)
        assert (response.status, await error_code(response)) == (413, "csv_too_large")
        assert not await TagImport.exists()
        assert not await MemberTag.exists()

    async def test_a_file_beyond_the_size_limit_is_413(
        self, client: TestClient, login_as: StaffLogin
    ) -> None:
        headers = await login_as("owner")
        tag = await created_tag(client, headers)
        body = {"csv": "8" * (imports.MAX_CHARS + 1)}
        response = await client.post(f"{API}/tags/{tag['id']}/imports", json=body, headers=headers)
        assert (response.status, await error_code(response)) == (413, "csv_too_large")

    @pytest.mark.parametrize(
        ("body", "code"),
        [
            ({"csv": "\n\n"}, "csv_empty"),
            ({"csv": "a\x00b\n"}, "csv_unreadable"),
            ({"csv": "x", "action": "toggle"}, "invalid_action"),
            ({}, "invalid_csv"),
        ],
    )
    async def test_a_file_that_cannot_be_read_is_400(
        self, client: TestClient, login_as: StaffLogin, body: dict[str, Any], code: str
    ) -> None:
        headers = await login_as("owner")
        tag = await created_tag(client, headers)
        response = await client.post(f"{API}/tags/{tag['id']}/imports", json=body, headers=headers)
        assert (response.status, await error_code(response)) == (400, code)
        assert not await AuditEntry.filter(action="tag.import").exists()

    async def test_an_unknown_import_is_404(self, client: TestClient, login_as: StaffLogin) -> None:
        headers = await login_as("owner")
        for path in ("/tag-imports/5", "/tag-imports/5/problems.csv"):
            response = await client.get(API + path, headers=headers)
            assert (response.status, await error_code(response)) == (404, "tag_import_not_found")
