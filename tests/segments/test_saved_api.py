"""`/admin/api/v1/segments`: saved segments for owners and operators, their counts, samples
and previews, refusals with stable codes, and the audit log."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.conftest import StaffLogin
from tests.factories import create_member, entry_tier
from tests.support.http import error_code
from wxmember.core.models import AuditEntry
from wxmember.core.models.saved_segments import SavedSegment
from wxmember.core.models.tags import MemberTag, Tag

API = "/admin/api/v1"
ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/segments", None),
    ("POST", "/segments", {"name": "五月生日", "filter": {"birth_months": [5]}}),
    ("POST", "/segments/preview", {"filter": {}}),
    ("GET", "/segments/1", None),
    ("PATCH", "/segments/1", {"description": "x"}),
    ("DELETE", "/segments/1", None),
    ("GET", "/segments/1/count", None),
    ("GET", "/segments/1/members", None),
]


class TestAccess:
    @pytest.mark.parametrize(("method", "path", "body"), ROUTES)
    async def test_without_a_session_is_401(
        self, client: TestClient, method: str, path: str, body: Any
    ) -> None:
        response = await client.request(method, API + path, json=body)
        assert response.status == 401

    @pytest.mark.parametrize(("method", "path", "body"), ROUTES)
    async def test_a_cashier_is_403(
        self, client: TestClient, login_as: StaffLogin, method: str, path: str, body: Any
    ) -> None:
        cashier = await login_as("cashier")
        response = await client.request(method, API + path, json=body, headers=cashier)
        assert response.status == 403
        assert await error_code(response) == "role_not_allowed"

    @pytest.mark.parametrize("role", ["owner", "operator"])
    async def test_owners_and_operators_may(
        self, client: TestClient, login_as: StaffLogin, role: str
    ) -> None:
        staff = await login_as(role)
        response = await client.get(f"{API}/segments", headers=staff)
        assert response.status == 200
        assert (await response.json())["items"] == []


class TestLifecycle:
    async def test_create_count_sample_update_delete_each_audited(
        self, client: TestClient, login_as: StaffLogin
    ) -> None:
        operator = await login_as("operator")
        may = await create_member(name="五月")
        await create_member(name="六月", birthday=None)
        tag = await Tag.create(name="VIP", name_key="vip")
        await MemberTag.create(member_id=may.id, tag_id=tag.id)
        body = {
            "name": "  五月  生日 ",
            "description": "生日月关怀",
            "filter": {"birth_months": [5, 5], "tags_any": [tag.id]},
        }
        response = await client.post(f"{API}/segments", json=body, headers=operator)
        assert response.status == 201, await response.text()
        made = await response.json()
        assert made["name"] == "五月 生日"
        assert made["filter"] == {"birth_months": [5], "tags_any": [tag.id]}
        path = f"{API}/segments/{made['id']}"

        count = await (await client.get(f"{path}/count", headers=operator)).json()
        assert count == {"segment_id": made["id"], "members": 1}
        sample = await (await client.get(f"{path}/members?limit=5", headers=operator)).json()
        assert [row["id"] for row in sample["items"]] == [may.id]
        assert sample["items"][0]["tier"]["id"] == (await entry_tier()).id

        patch = {"filter": {"birth_months": [5, 6]}}
        response = await client.patch(path, json=patch, headers=operator)
        assert (await response.json())["filter"] == {"birth_months": [5, 6]}
        count = await (await client.get(f"{path}/count", headers=operator)).json()
        assert count["members"] == 1  # the other member has no birthday on record

        response = await client.delete(path, headers=operator)
        assert await response.json() == {"id": made["id"], "name": "五月 生日"}
        assert (await client.get(path, headers=operator)).status == 404
        actions = [e.action for e in await AuditEntry.filter(target_type="segment").order_by("id")]
        assert actions == ["segment.create", "segment.update", "segment.delete"]
        update = await AuditEntry.get(action="segment.update")
        assert update.before is not None and update.after is not None
        assert update.before["filter"] == {"birth_months": [5], "tags_any": [tag.id]}
        assert update.after["filter"] == {"birth_months": [5, 6]}

    async def test_a_patch_that_changes_nothing_is_not_audited(
        self, client: TestClient, login_as: StaffLogin
    ) -> None:
        owner = await login_as("owner")
        made = await (
            await client.post(f"{API}/segments", json={"name": "全部", "filter": {}}, headers=owner)
        ).json()
        response = await client.patch(
            f"{API}/segments/{made['id']}", json={"name": "全部", "filter": {}}, headers=owner
        )
        assert response.status == 200
        assert await AuditEntry.filter(action="segment.update").count() == 0

    async def test_names_are_unique_whatever_their_case(
        self, client: TestClient, login_as: StaffLogin
    ) -> None:
        owner = await login_as("owner")
        first = await client.post(
            f"{API}/segments", json={"name": "VIP", "filter": {}}, headers=owner
        )
        assert first.status == 201
        again = await client.post(
            f"{API}/segments", json={"name": " vip ", "filter": {}}, headers=owner
        )
        assert again.status == 409
        assert await error_code(again) == "segment_name_taken"
        other = await client.post(
            f"{API}/segments", json={"name": "其他", "filter": {}}, headers=owner
        )
        renamed = await client.patch(
            f"{API}/segments/{(await other.json())['id']}", json={"name": "Vip"}, headers=owner
        )
        assert renamed.status == 409
        assert await error_code(renamed) == "segment_name_taken"
        assert await SavedSegment.all().count() == 2

    async def test_the_list_pages_newest_first(
        self, client: TestClient, login_as: StaffLogin
    ) -> None:
        owner = await login_as("owner")
        for n in range(3):
            await client.post(
                f"{API}/segments", json={"name": f"分群{n}", "filter": {}}, headers=owner
            )
        page = await (await client.get(f"{API}/segments?limit=2", headers=owner)).json()
        assert [item["name"] for item in page["items"]] == ["分群2", "分群1"]
        rest = await (
            await client.get(f"{API}/segments?limit=2&cursor={page['next_cursor']}", headers=owner)
        ).json()
        assert [item["name"] for item in rest["items"]] == ["分群0"]
        assert rest["next_cursor"] is None


class TestPreview:
    async def test_a_filter_not_saved_answers_its_count_and_sample(
        self, client: TestClient, login_as: StaffLogin
    ) -> None:
        owner = await login_as("owner")
        members = [await create_member(name=f"会员{n}") for n in range(3)]
        await create_member(with_card=False)
        response = await client.post(
            f"{API}/segments/preview", json={"filter": {"birth_months": [5]}}, headers=owner
        )
        found = await response.json()
        assert found["members"] == 3
        assert [row["id"] for row in found["sample"]] == [m.id for m in reversed(members)]
        assert await SavedSegment.all().count() == 0
        assert await AuditEntry.filter(target_type="segment").count() == 0


BAD_FILTERS = [
    {"unknown": 1},
    {"birth_months": [13]},
    {"birth_months": [0]},
    {"birth_months": []},
    {"birth_months": ["5"]},
    {"points_balance": {"min": 10, "max": 5}},
    {"points_balance": {}},
    {"points_balance": {"min": -1}},
    {"points_balance": {"min": 1, "other": 2}},
    {"r_score": {"min": 0}},
    {"f_score": {"max": 6}},
    {"rfm_segments": ["vip"]},
    {"last_purchase_after": "2025-13-01"},
    {"last_purchase_after": "2025-06-01T00:00:00"},
    {"card_opened_after": "2025-06-02", "card_opened_before": "2025-06-01"},
    {"last_purchase_after": "2025-06-01", "last_purchase_before": "2025-06-01"},
    {"stores": ["南京路\u202e"]},
    {"stores": [""]},
    {"subscribe_template_id": "tpl\x00"},
    {"follows_official_account": "yes"},
    {"purchase_count": {"min": 2**40}},
    {"purchase_amount_fen": {"max": 10**14}},
    {"tags_any": [1], "tags_none": [1]},
    {"tags_all": [0]},
    {"tier_ids": [2**31]},
    [],
    "birth_months",
]


class TestRefusals:
    @pytest.mark.parametrize("bad", BAD_FILTERS)
    async def test_a_bad_filter_is_400_invalid_filter(
        self, client: TestClient, login_as: StaffLogin, bad: Any
    ) -> None:
        owner = await login_as("owner")
        for path, body in (
            ("/segments", {"name": "坏", "filter": bad}),
            ("/segments/preview", {"filter": bad}),
        ):
            response = await client.post(API + path, json=body, headers=owner)
            assert response.status == 400, (path, bad, await response.text())
            assert await error_code(response) == "invalid_filter"
        assert await SavedSegment.all().count() == 0

    async def test_tiers_and_tags_that_do_not_exist_are_400(
        self, client: TestClient, login_as: StaffLogin
    ) -> None:
        owner = await login_as("owner")
        tier = await entry_tier()
        tag = await Tag.create(name="VIP", name_key="vip")
        for bad, field in (
            ({"tier_ids": [tier.id, 999]}, "filter.tier_ids"),
            ({"tags_any": [tag.id, 999]}, "filter.tags_any"),
            ({"tags_all": [998]}, "filter.tags_all"),
            ({"tags_none": [997]}, "filter.tags_none"),
        ):
            response = await client.post(
                f"{API}/segments/preview", json={"filter": bad}, headers=owner
            )
            assert response.status == 400
            body = await response.json()
            assert body["error"]["code"] == "invalid_filter"
            assert body["error"]["details"]["field"] == field
        made = await client.post(
            f"{API}/segments", json={"name": "好", "filter": {"tier_ids": [tier.id]}}, headers=owner
        )
        assert made.status == 201
        patched = await client.patch(
            f"{API}/segments/{(await made.json())['id']}",
            json={"filter": {"tags_any": [999]}},
            headers=owner,
        )
        assert patched.status == 400
        assert await error_code(patched) == "invalid_filter"

    async def test_unknown_segments_are_404(self, client: TestClient, login_as: StaffLogin) -> None:
        owner = await login_as("owner")
        for method, suffix in (
            ("GET", ""),
            ("PATCH", ""),
            ("DELETE", ""),
            ("GET", "/count"),
            ("GET", "/members"),
        ):
            body = {"description": "x"} if method == "PATCH" else None
            response = await client.request(
                method, f"{API}/segments/42{suffix}", json=body, headers=owner
            )
            assert response.status == 404
            assert await error_code(response) == "segment_not_found"

    async def test_a_bad_name_or_sample_size_is_400(
        self, client: TestClient, login_as: StaffLogin
    ) -> None:
        owner = await login_as("owner")
        for name in ("", "   ", "x" * 41, "a\u202eb"):
            response = await client.post(
                f"{API}/segments", json={"name": name, "filter": {}}, headers=owner
            )
            assert await error_code(response) == "invalid_name"
        made = await client.post(
            f"{API}/segments", json={"name": "好", "filter": {}}, headers=owner
        )
        path = f"{API}/segments/{(await made.json())['id']}/members"
        for limit in ("0", "101", "x"):
            response = await client.get(f"{path}?limit={limit}", headers=owner)
            assert await error_code(response) == "invalid_limit"
