"""`/admin/api/v1/campaigns`: drafts, preview, launch, pause, resume, cancel, members, results
and their CSV, for owners and operators; refusals with stable codes; the audit log."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from handlers.campaigns.run import run_due_campaigns
from handlers.reminders import pacer_for
from tests.campaigns.conftest import MESSAGE, TEMPLATE, MembersMaker
from tests.conftest import StaffLogin
from tests.support.http import error_code
from wxmember.core.clock import FrozenClock
from wxmember.core.context import Services
from wxmember.core.fake_wechat import FakeWeChat
from wxmember.core.models import AuditEntry
from wxmember.core.models.campaigns import Campaign, CampaignDelivery
from wxmember.core.models.coupons import CouponTemplate
from wxmember.core.models.saved_segments import SavedSegment

API = "/admin/api/v1"
ROUTES = [
    ("GET", "/campaigns", None),
    ("GET", "/campaigns/fields", None),
    ("POST", "/campaigns", {"name": "x", "segment_id": 1, "points": 1}),
    ("GET", "/campaigns/1", None),
    ("PATCH", "/campaigns/1", {"name": "y"}),
    ("DELETE", "/campaigns/1", None),
    ("GET", "/campaigns/1/preview", None),
    ("POST", "/campaigns/1/launch", {}),
    ("POST", "/campaigns/1/pause", None),
    ("POST", "/campaigns/1/resume", None),
    ("POST", "/campaigns/1/cancel", None),
    ("GET", "/campaigns/1/deliveries", None),
    ("GET", "/campaigns/1/results", None),
    ("GET", "/campaigns/1/results.csv", None),
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


async def _draft(
    client: TestClient, staff: dict[str, str], segment: SavedSegment, **fields: Any
) -> dict[str, Any]:
    body = {"name": "回归礼", "segment_id": segment.id, **fields}
    response = await client.post(f"{API}/campaigns", json=body, headers=staff)
    assert response.status == 201, await response.text()
    return dict(await response.json())


class TestDrafts:
    @pytest.mark.parametrize(
        ("fields", "code"),
        [
            ({}, "no_action"),
            ({"channel": "miniapp_subscribe", "template_id": TEMPLATE}, "incomplete_message"),
            ({**MESSAGE, "page": None}, "field_without_gift"),
            ({**MESSAGE, "channel": "official_template", "page": None}, "page_required"),
            ({"coupon_template_id": 999_999}, "invalid_coupon_template"),
            ({"coupon_template_id": "sold_out"}, "invalid_coupon_template"),
            ({"points": 10, **MESSAGE, "mapping": {"name1": "nope"}}, "unknown_field"),
            ({"points": 0}, "invalid_points"),
            ({"points": 10, "holdout_percent": 60}, "invalid_holdout_percent"),
        ],
    )
    async def test_refusals_name_what_is_wrong(
        self,
        client: TestClient,
        login_as: StaffLogin,
        everyone: SavedSegment,
        fields: dict[str, Any],
        code: str,
    ) -> None:
        owner = await login_as("owner")
        if fields.get("coupon_template_id") == "sold_out":
            gone = await CouponTemplate.create(
                title="售罄", kind="cash", value=100, total_stock=1, remaining=0, valid_days=7
            )
            fields = {"coupon_template_id": gone.id}
        body = {"name": "回归礼", "segment_id": everyone.id, **fields}
        response = await client.post(f"{API}/campaigns", json=body, headers=owner)
        assert response.status == 400, await response.text()
        assert await error_code(response) == code
        assert not await Campaign.exists()

    async def test_an_unknown_segment_is_404(
        self, client: TestClient, login_as: StaffLogin
    ) -> None:
        owner = await login_as("owner")
        body = {"name": "回归礼", "segment_id": 999_999, "points": 5}
        response = await client.post(f"{API}/campaigns", json=body, headers=owner)
        assert response.status == 404
        assert await error_code(response) == "segment_not_found"

    async def test_draft_change_delete_each_audited(
        self,
        client: TestClient,
        login_as: StaffLogin,
        everyone: SavedSegment,
        coupon_template: CouponTemplate,
    ) -> None:
        operator = await login_as("operator")
        made = await _draft(client, operator, everyone, points=5)
        assert made["state"] == "draft" and made["holdout_percent"] == 10
        path = f"{API}/campaigns/{made['id']}"
        patch = {"coupon_template_id": coupon_template.id, **MESSAGE, "points": None}
        response = await client.patch(path, json=patch, headers=operator)
        assert response.status == 200, await response.text()
        changed = await response.json()
        assert changed["points"] is None and changed["coupon_template_id"] == coupon_template.id
        assert changed["mapping"]["thing2"] == {"field": "coupon_title", "truncate": False}
        listed = await (await client.get(f"{API}/campaigns", headers=operator)).json()
        assert [item["id"] for item in listed["items"]] == [made["id"]]
        response = await client.delete(path, headers=operator)
        assert await response.json() == {"id": made["id"], "name": "回归礼"}
        assert (await client.get(path, headers=operator)).status == 404
        actions = [e.action for e in await AuditEntry.filter(target_type="campaign").order_by("id")]
        assert actions == ["campaign.create", "campaign.update", "campaign.delete"]

    async def test_the_fields_a_message_may_show(
        self, client: TestClient, login_as: StaffLogin
    ) -> None:
        owner = await login_as("owner")
        found = await (await client.get(f"{API}/campaigns/fields", headers=owner)).json()
        needs = {item["name"]: item["needs"] for item in found["items"]}
        assert needs["member_name"] is None
        assert needs["coupon_title"] == "coupon" and needs["points"] == "points"


class TestLaunchAndResults:
    async def test_preview_launch_once_run_and_read_the_results(
        self,
        client: TestClient,
        login_as: StaffLogin,
        services: Services,
        clock: FrozenClock,
        everyone: SavedSegment,
        coupon_template: CouponTemplate,
        new_members: MembersMaker,
        fake_wechat: FakeWeChat,
    ) -> None:
        owner = await login_as("owner")
        await new_members(40)
        fake_wechat.register_subscribe_template(TEMPLATE, list(MESSAGE["mapping"]))
        made = await _draft(
            client, owner, everyone, coupon_template_id=coupon_template.id, **MESSAGE
        )
        path = f"{API}/campaigns/{made['id']}"

        preview = await (await client.get(f"{path}/preview", headers=owner)).json()
        assert preview["members"] == 40
        assert preview["holdout"] + preview["recipients"] == 40
        assert preview["messages"][0]["data"]["thing2"] == "回归礼券"
        assert fake_wechat.sent == []

        response = await client.post(f"{path}/launch", json={}, headers=owner)
        assert response.status == 200, await response.text()
        assert (await response.json())["state"] == "scheduled"
        again = await client.post(f"{path}/launch", json={}, headers=owner)
        assert again.status == 409
        assert await error_code(again) == "campaign_wrong_state"
        assert (await again.json())["error"]["details"]["state"] == "scheduled"
        edit = await client.patch(path, json={"name": "改"}, headers=owner)
        assert await error_code(edit) == "campaign_wrong_state"
        # the segment may go: the campaign keeps the filter it was launched with
        await SavedSegment.filter(id=everyone.id).delete()

        await run_due_campaigns(services, pacer=pacer_for(services))
        state = await (await client.get(path, headers=owner)).json()
        assert state["state"] == "finished" and state["segment_id"] is None
        assert state["recipients"] + state["held_out"] == 40

        members = await (await client.get(f"{path}/deliveries?limit=100", headers=owner)).json()
        assert len(members["items"]) == 40
        held = await (await client.get(f"{path}/deliveries?holdout=1", headers=owner)).json()
        assert {row["reason"] for row in held["items"]} <= {"holdout"}
        assert len(held["items"]) == state["held_out"]

        figures = await (await client.get(f"{path}/results", headers=owner)).json()
        assert figures["groups"] == {"treated": state["recipients"], "holdout": state["held_out"]}
        assert figures["deliveries"]["sent"] == state["recipients"]
        assert figures["coupons"]["given"] == state["recipients"]
        assert [window["days"] for window in figures["windows"]] == [7, 14, 30]

        response = await client.get(f"{path}/results.csv", headers=owner)
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/csv")
        text = (await response.read()).decode("utf-8-sig")
        rows = list(csv.reader(io.StringIO(text)))
        assert rows[0][:3] == ["card_no", "group", "state"]
        assert len(rows) == 41
        assert await CampaignDelivery.filter(campaign_id=made["id"]).count() == 40

        actions = [e.action for e in await AuditEntry.filter(target_type="campaign").order_by("id")]
        assert actions == ["campaign.create", "campaign.launch"]

    async def test_pause_resume_cancel_by_state(
        self,
        client: TestClient,
        login_as: StaffLogin,
        clock: FrozenClock,
        everyone: SavedSegment,
    ) -> None:
        owner = await login_as("owner")
        made = await _draft(client, owner, everyone, points=5)
        path = f"{API}/campaigns/{made['id']}"
        assert await error_code(await client.post(f"{path}/pause", headers=owner)) == (
            "campaign_wrong_state"
        )
        start = {"start_at": "2026-05-18T09:00:00"}  # the brand's local time
        launched = await (await client.post(f"{path}/launch", json=start, headers=owner)).json()
        assert launched["start_at"] == "2026-05-18T01:00:00+00:00"
        paused = await (await client.post(f"{path}/pause", headers=owner)).json()
        assert paused["state"] == "paused"
        resumed = await (await client.post(f"{path}/resume", headers=owner)).json()
        assert resumed["state"] == "scheduled"  # it had not started yet
        cancelled = await (await client.post(f"{path}/cancel", headers=owner)).json()
        assert cancelled["state"] == "cancelled" and cancelled["finished_at"] is not None
        again = await client.post(f"{path}/cancel", headers=owner)
        assert await error_code(again) == "campaign_wrong_state"
        gone = await client.delete(path, headers=owner)
        assert await error_code(gone) == "campaign_wrong_state"
        actions = [e.action for e in await AuditEntry.filter(target_type="campaign").order_by("id")]
        assert actions == [
            "campaign.create",
            "campaign.launch",
            "campaign.pause",
            "campaign.resume",
            "campaign.cancel",
        ]
