"""`/admin/api/v1` RFM routes: who may call them, what they answer, refusals, the audit log."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from handlers.segments import run_rfm
from tests.conftest import StaffLogin
from tests.segments.kit import History
from tests.support.http import error_code
from tests.support.localtime import local
from wxmember.core.context import Services
from wxmember.core.models import AuditEntry
from wxmember.core.models.segments import RfmRun

API = "/admin/api/v1"
THRESHOLDS = {
    "recency_days": [30, 60, 90, 180],
    "frequency": [2, 3, 5, 8],
    "monetary_fen": [10_000, 30_000, 50_000, 100_000],
}
ROUTES = [
    ("GET", "/members/1/rfm", None),
    ("GET", "/rfm/segments", None),
    ("GET", "/rfm/movements", None),
    ("GET", "/rfm/settings", None),
    ("PUT", "/rfm/settings", {"mode": "quintile"}),
    ("GET", "/rfm/runs", None),
    ("POST", "/rfm/runs", None),
]


class TestAccess:
    @pytest.mark.parametrize(("method", "path", "body"), ROUTES)
    async def test_without_a_session_is_401(
        self, client: TestClient, method: str, path: str, body: Any
    ) -> None:
        response = await client.request(method, API + path, json=body)
        assert response.status == 401
        assert await error_code(response) == "missing_token"

    @pytest.mark.parametrize(("method", "path", "body"), ROUTES)
    async def test_a_cashier_is_403(
        self, client: TestClient, login_as: StaffLogin, method: str, path: str, body: Any
    ) -> None:
        cashier = await login_as("cashier")
        response = await client.request(method, API + path, json=body, headers=cashier)
        assert response.status == 403
        assert await error_code(response) == "role_not_allowed"


class TestMemberRfm:
    async def test_a_scored_member_with_labels(
        self, client: TestClient, services: Services, login_as: StaffLogin, history: History
    ) -> None:
        member = await history.holder()
        await history.buy(member, local(2025, 6, 10, 12), 12_800)
        operator = await login_as("operator")
        before = await client.get(f"{API}/members/{member.id}/rfm", headers=operator)
        assert (await before.json()) == {"member_id": member.id, "rfm": None}
        await run_rfm(services)
        response = await client.get(f"{API}/members/{member.id}/rfm", headers=operator)
        rfm = (await response.json())["rfm"]
        assert (rfm["recency_days"], rfm["frequency"], rfm["monetary_fen"]) == (5, 1, 12_800)
        assert (rfm["segment"], rfm["segment_label"]) == ("new", "新客")
        assert rfm["computed_on"] == "2025-06-15"

    async def test_an_unknown_member_is_404(self, client: TestClient, login_as: StaffLogin) -> None:
        operator = await login_as("operator")
        response = await client.get(f"{API}/members/987654/rfm", headers=operator)
        assert response.status == 404
        assert await error_code(response) == "member_not_found"
        response = await client.get(f"{API}/members/abc/rfm", headers=operator)
        assert response.status == 404


class TestSettings:
    async def test_thresholds_saved_audited_and_applied_by_a_run(
        self, client: TestClient, login_as: StaffLogin, history: History
    ) -> None:
        owner = await login_as("owner")
        member = await history.holder(local(2023, 1, 1))
        await history.buy(member, local(2025, 1, 10, 12), 60_000)
        start = await client.get(f"{API}/rfm/settings", headers=owner)
        assert (await start.json())["mode"] == "quintile"
        body = {"mode": "thresholds", "thresholds": THRESHOLDS}
        saved = await client.put(f"{API}/rfm/settings", json=body, headers=owner)
        assert saved.status == 200
        answer = await saved.json()
        assert (answer["mode"], answer["version"], answer["thresholds"]) == (
            "thresholds",
            1,
            THRESHOLDS,
        )
        ran = await client.post(f"{API}/rfm/runs", headers=owner)
        report = await ran.json()
        assert (report["status"], report["mode"], report["cuts"]) == (
            "finished",
            "thresholds",
            THRESHOLDS,
        )
        again = await (await client.post(f"{API}/rfm/runs", headers=owner)).json()
        assert again["status"] == "already_finished"
        scored = await (await client.get(f"{API}/members/{member.id}/rfm", headers=owner)).json()
        assert scored["rfm"]["segment"] == "important_winback"  # 156 days, once, 600 yuan
        actions = await AuditEntry.all().order_by("id").values_list("action", flat=True)
        assert actions == ["rfm_settings.replace", "rfm.run", "rfm.run"]
        runs = await (await client.get(f"{API}/rfm/runs", headers=owner)).json()
        assert [run["status"] for run in runs["items"]] == ["finished"]
        assert await RfmRun.all().count() == 1

    @pytest.mark.parametrize(
        ("body", "code"),
        [
            ({"mode": "thresholds"}, "thresholds_required"),
            ({"mode": "deciles"}, "invalid_mode"),
            ({}, "invalid_mode"),
            (
                {"mode": "thresholds", "thresholds": THRESHOLDS | {"frequency": [5, 3, 2, 8]}},
                "invalid_thresholds",
            ),
            (
                {"mode": "thresholds", "thresholds": THRESHOLDS | {"frequency": [1, 2, 3]}},
                "invalid_thresholds",
            ),
            (
                {"mode": "thresholds", "thresholds": THRESHOLDS | {"recency_days": [-1, 2, 3, 4]}},
                "invalid_thresholds",
            ),
            (
                {"mode": "thresholds", "thresholds": THRESHOLDS | {"monetary_fen": ["1", 2, 3, 4]}},
                "invalid_thresholds",
            ),
            (
                {"mode": "thresholds", "thresholds": THRESHOLDS | {"extra": [1, 2, 3, 4]}},
                "invalid_thresholds",
            ),
            ({"mode": "quintile", "colour": "red"}, "invalid_colour"),
            ([1, 2], "validation_failed"),
        ],
    )
    async def test_bad_settings_are_400_with_a_stable_code(
        self, client: TestClient, login_as: StaffLogin, body: Any, code: str
    ) -> None:
        operator = await login_as("operator")
        response = await client.put(f"{API}/rfm/settings", json=body, headers=operator)
        assert response.status == 400, await response.text()
        assert await error_code(response) == code
        assert await AuditEntry.all().count() == 0


class TestSegmentsAndMovements:
    async def test_sizes_and_the_movement_of_the_latest_month(
        self, client: TestClient, services: Services, login_as: StaffLogin, history: History
    ) -> None:
        operator = await login_as("operator")
        empty = await (await client.get(f"{API}/rfm/segments", headers=operator)).json()
        assert (empty["day"], empty["total"]) == (None, 0)
        assert len(empty["items"]) == 10
        buyer = await history.holder()
        await history.buy(buyer, local(2025, 6, 1, 12), 1_000)
        await history.holder()
        await run_rfm(services)
        sizes = await (await client.get(f"{API}/rfm/segments", headers=operator)).json()
        counts = {item["segment"]: item["members"] for item in sizes["items"]}
        assert (sizes["day"], sizes["total"]) == ("2025-06-15", 2)
        assert (counts["new"], counts["never_purchased"]) == (1, 1)
        moved = await (await client.get(f"{API}/rfm/movements", headers=operator)).json()
        assert (moved["month"], moved["previous_month"], moved["months"]) == (
            "2025-06",
            None,
            ["2025-06"],
        )
        assert {(m["from_segment"], m["to_segment"], m["members"]) for m in moved["moves"]} == {
            (None, "new", 1),
            (None, "never_purchased", 1),
        }
        other = await client.get(f"{API}/rfm/movements?month=2025-05", headers=operator)
        assert (await other.json())["moves"] == []

    @pytest.mark.parametrize("month", ["2025-13", "2025-6", "June", "2025-06-01", "1999-01"])
    async def test_a_bad_month_is_400_invalid_month(
        self, client: TestClient, login_as: StaffLogin, month: str
    ) -> None:
        operator = await login_as("operator")
        response = await client.get(f"{API}/rfm/movements?month={month}", headers=operator)
        assert response.status == 400
        assert await error_code(response) == "invalid_month"
