"""Coupon templates in the admin API: create, read, change, stop, delete; validation; audit."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from handlers.coupons.issuing import issue_coupon
from tests.conftest import StaffLogin
from tests.coupons.conftest import MemberMaker, TemplateMaker, cash_fields
from tests.support.http import error_code
from wxmember.core.context import Services
from wxmember.core.models import AuditEntry, Tier
from wxmember.core.models.coupons import CouponTemplate

BASE = "/admin/api/v1/coupon-templates"


class TestCreate:
    async def test_cash_template_is_created_and_audited(
        self, client: TestClient, staff: dict[str, str]
    ) -> None:
        response = await client.post(
            BASE, json=cash_fields(terms="不与其他优惠同享"), headers=staff
        )
        assert response.status == 201, await response.text()
        body = await response.json()
        assert body["kind"] == "cash"
        assert body["description"] == "满50减10"
        assert body["total_stock"] == 100
        assert body["remaining"] == 100
        assert body["claimed"] == 0
        assert body["status"] == "active"
        assert body["obtain"] == "claimable"
        entry = await AuditEntry.get(action="coupon_template.create")
        assert entry.actor == "op-coupons"
        assert entry.target_id == str(body["id"])
        assert entry.after is not None
        assert entry.after["value"] == 1000

    @pytest.mark.parametrize(
        ("fields", "description"),
        [
            ({"kind": "discount", "value": 10, "threshold_fen": 0}, "9折"),
            ({"kind": "discount", "value": 15, "max_discount_fen": 2000}, "满50享8.5折，最高减20"),
            ({"kind": "gift", "value": 0, "threshold_fen": 0}, "礼品券"),
            ({"kind": "cash", "value": 550, "threshold_fen": 0}, "无门槛减5.5"),
        ],
    )
    async def test_kinds_are_described(
        self, client: TestClient, staff: dict[str, str], fields: dict[str, Any], description: str
    ) -> None:
        response = await client.post(BASE, json=cash_fields(**fields), headers=staff)
        assert response.status == 201, await response.text()
        assert (await response.json())["description"] == description

    async def test_fixed_validity_and_naive_times_are_brand_local(
        self, client: TestClient, staff: dict[str, str]
    ) -> None:
        fields = cash_fields(
            valid_days=None,
            valid_from="2025-04-01T00:00:00",
            valid_until="2025-05-01T00:00:00+08:00",
            claim_ends_at="2025-04-30T12:00:00Z",
            eligible_tiers=[],
        )
        response = await client.post(BASE, json=fields, headers=staff)
        assert response.status == 201, await response.text()
        body = await response.json()
        assert body["valid_from"] == "2025-04-01T00:00:00+08:00"
        assert body["claim_ends_at"] == "2025-04-30T20:00:00+08:00"
        assert body["valid_days"] is None

    async def test_eligible_tiers_are_levels_that_exist(
        self, client: TestClient, staff: dict[str, str]
    ) -> None:
        await Tier.create(name="金卡", level=2)
        await Tier.create(name="银卡", level=1)
        response = await client.post(
            BASE, json=cash_fields(eligible_tiers=[2, 1, 2]), headers=staff
        )
        assert response.status == 201
        assert (await response.json())["eligible_tiers"] == [1, 2]

    @pytest.mark.parametrize(
        ("fields", "code"),
        [
            ({"title": ""}, "invalid_title"),
            ({"title": "   "}, "invalid_title"),
            ({"title": "券" * 21}, "invalid_title"),
            ({"title": None}, "invalid_title"),
            ({"kind": "coupon"}, "invalid_kind"),
            ({"value": -1}, "invalid_value"),
            ({"value": "1000"}, "invalid_value"),
            ({"value": 10.5}, "invalid_value"),
            ({"value": 0}, "invalid_value"),
            ({"kind": "discount", "value": 100}, "invalid_value"),
            ({"kind": "discount", "value": 0}, "invalid_value"),
            ({"kind": "gift", "value": 500}, "invalid_value"),
            ({"threshold_fen": -1}, "invalid_threshold_fen"),
            ({"threshold_fen": 10**12}, "invalid_threshold_fen"),
            ({"kind": "discount", "value": 10, "max_discount_fen": 0}, "invalid_max_discount_fen"),
            ({"max_discount_fen": 500}, "invalid_max_discount_fen"),
            ({"total_stock": 0}, "invalid_total_stock"),
            ({"total_stock": True}, "invalid_total_stock"),
            ({"per_member_limit": 0}, "invalid_per_member_limit"),
            ({"claim_starts_at": "soon"}, "invalid_claim_starts_at"),
            (
                {
                    "claim_starts_at": "2025-03-02T00:00:00Z",
                    "claim_ends_at": "2025-03-01T00:00:00Z",
                },
                "invalid_claim_ends_at",
            ),
            ({"valid_days": 0}, "invalid_valid_days"),
            ({"valid_days": 3651}, "invalid_valid_days"),
            ({"valid_days": None}, "invalid_validity"),
            (
                {"valid_from": "2025-04-01T00:00:00Z", "valid_until": "2025-05-01T00:00:00Z"},
                "invalid_validity",
            ),
            ({"valid_days": None, "valid_from": "2025-04-01T00:00:00Z"}, "invalid_validity"),
            (
                {
                    "valid_days": None,
                    "valid_from": "2025-05-01T00:00:00Z",
                    "valid_until": "2025-04-01T00:00:00Z",
                },
                "invalid_valid_until",
            ),
            (
                {
                    "valid_days": None,
                    "valid_from": "2025-04-01T00:00:00Z",
                    "valid_until": "2025-05-01T00:00:00Z",
                    "claim_ends_at": "2025-05-02T00:00:00Z",
                },
                "invalid_claim_ends_at",
            ),
            ({"valid_until": "not a date", "valid_days": None}, "invalid_valid_until"),
            ({"eligible_tiers": [7]}, "invalid_eligible_tiers"),
            ({"eligible_tiers": ["gold"]}, "invalid_eligible_tiers"),
            ({"eligible_tiers": 1}, "invalid_eligible_tiers"),
            ({"obtain": "mall"}, "invalid_obtain"),
            ({"terms": "字" * 1001}, "invalid_terms"),
            ({"colour": "red"}, "invalid_colour"),
        ],
    )
    async def test_every_bad_field_is_a_400_naming_it(
        self, client: TestClient, staff: dict[str, str], fields: dict[str, Any], code: str
    ) -> None:
        response = await client.post(BASE, json=cash_fields(**fields), headers=staff)
        assert response.status == 400, await response.text()
        assert await error_code(response) == code
        assert await CouponTemplate.all().count() == 0

    async def test_missing_title_and_kind_and_non_object(
        self, client: TestClient, staff: dict[str, str]
    ) -> None:
        for body, code in (
            ({"kind": "cash", "value": 1, "valid_days": 1}, "invalid_title"),
            ({"title": "x", "value": 1, "valid_days": 1}, "invalid_kind"),
            ([1, 2], "validation_failed"),
        ):
            response = await client.post(BASE, json=body, headers=staff)
            assert await error_code(response) == code

    @pytest.mark.parametrize(("role", "status"), [("owner", 201), ("cashier", 403)])
    async def test_roles(
        self, client: TestClient, login_as: StaffLogin, role: str, status: int
    ) -> None:
        headers = await login_as(role)
        response = await client.post(BASE, json=cash_fields(), headers=headers)
        assert response.status == status


class TestReadAndList:
    async def test_get_and_list_newest_first_with_paging(
        self, client: TestClient, staff: dict[str, str], new_template: TemplateMaker
    ) -> None:
        made = [await new_template(title=f"券{i}") for i in range(3)]
        await new_template(title="生日券", obtain="issued")
        one = await client.get(f"{BASE}/{made[0].id}", headers=staff)
        assert (await one.json())["title"] == "券0"
        page = await (await client.get(f"{BASE}?limit=2&obtain=claimable", headers=staff)).json()
        assert [item["title"] for item in page["items"]] == ["券2", "券1"]
        rest = await client.get(
            f"{BASE}?limit=2&cursor={page['next_cursor']}&obtain=claimable", headers=staff
        )
        rest_body = await rest.json()
        assert [item["title"] for item in rest_body["items"]] == ["券0"]
        assert rest_body["next_cursor"] is None

    async def test_unknown_and_bad_ids_and_filters(
        self, client: TestClient, staff: dict[str, str]
    ) -> None:
        missing = await client.get(f"{BASE}/999", headers=staff)
        assert await error_code(missing) == "template_not_found"
        assert (await client.get(f"{BASE}/abc", headers=staff)).status == 404
        bad = await client.get(f"{BASE}?obtain=everything", headers=staff)
        assert await error_code(bad) == "invalid_obtain"


class TestUpdate:
    async def test_patch_changes_only_sent_fields_and_is_audited(
        self, client: TestClient, staff: dict[str, str], new_template: TemplateMaker
    ) -> None:
        template = await new_template()
        response = await client.patch(
            f"{BASE}/{template.id}",
            json={"title": "满50减10元", "terms": "周末可用"},
            headers=staff,
        )
        assert response.status == 200, await response.text()
        body = await response.json()
        assert body["title"] == "满50减10元"
        assert body["value"] == 1000
        entry = await AuditEntry.get(action="coupon_template.update")
        assert entry.before is not None and entry.after is not None
        assert entry.before["title"] == "满50减10"
        assert entry.after["terms"] == "周末可用"

    async def test_switch_to_fixed_validity(
        self, client: TestClient, staff: dict[str, str], new_template: TemplateMaker
    ) -> None:
        template = await new_template()
        response = await client.patch(
            f"{BASE}/{template.id}",
            json={"valid_days": None, "valid_from": "2025-04-01", "valid_until": "2025-05-01"},
            headers=staff,
        )
        assert response.status == 200, await response.text()
        assert (await response.json())["valid_until"] == "2025-05-01T00:00:00+08:00"

    @pytest.mark.parametrize(
        ("fields", "code"),
        [
            ({"title": None}, "invalid_title"),
            ({"kind": None}, "invalid_kind"),
            ({"per_member_limit": None}, "invalid_per_member_limit"),
            ({"valid_days": None}, "invalid_validity"),
            ({"kind": "discount"}, "invalid_value"),
            ({"nope": 1}, "invalid_nope"),
        ],
    )
    async def test_bad_patch_is_400(
        self,
        client: TestClient,
        staff: dict[str, str],
        new_template: TemplateMaker,
        fields: dict[str, Any],
        code: str,
    ) -> None:
        template = await new_template()
        response = await client.patch(f"{BASE}/{template.id}", json=fields, headers=staff)
        assert response.status == 400
        assert await error_code(response) == code

    @pytest.mark.parametrize(
        "fields",
        [{"value": 500}, {"threshold_fen": 0}, {"kind": "discount", "value": 10}],
    )
    async def test_value_kind_threshold_locked_once_claimed(
        self,
        client: TestClient,
        services: Services,
        staff: dict[str, str],
        new_template: TemplateMaker,
        new_member: MemberMaker,
        fields: dict[str, Any],
    ) -> None:
        template = await new_template()
        member, _ = await new_member()
        await issue_coupon(services, member.id, template.id, reason="test", idempotency_key="k1")
        response = await client.patch(f"{BASE}/{template.id}", json=fields, headers=staff)
        assert response.status == 409
        assert await error_code(response) == "template_locked"
        same = await client.patch(
            f"{BASE}/{template.id}", json={"value": 1000, "title": "改名"}, headers=staff
        )
        assert same.status == 200

    async def test_stock_change_keeps_what_was_handed_out(
        self,
        client: TestClient,
        services: Services,
        staff: dict[str, str],
        new_template: TemplateMaker,
        new_member: MemberMaker,
    ) -> None:
        template = await new_template(total_stock=5)
        member, _ = await new_member()
        for key in ("a", "b", "c"):
            await issue_coupon(services, member.id, template.id, reason="t", idempotency_key=key)
        low = await client.patch(f"{BASE}/{template.id}", json={"total_stock": 2}, headers=staff)
        assert await error_code(low) == "stock_below_claimed"
        more = await client.patch(f"{BASE}/{template.id}", json={"total_stock": 10}, headers=staff)
        assert (await more.json())["remaining"] == 7
        unlimited = await client.patch(
            f"{BASE}/{template.id}", json={"total_stock": None}, headers=staff
        )
        body = await unlimited.json()
        assert (body["total_stock"], body["remaining"], body["claimed"]) == (None, None, 3)

    async def test_unknown_template(self, client: TestClient, staff: dict[str, str]) -> None:
        response = await client.patch(f"{BASE}/999", json={"title": "x"}, headers=staff)
        assert await error_code(response) == "template_not_found"


class TestStopAndDelete:
    async def test_stop_is_audited_once(
        self, client: TestClient, staff: dict[str, str], new_template: TemplateMaker
    ) -> None:
        template = await new_template()
        for _ in range(2):
            response = await client.post(f"{BASE}/{template.id}/stop", headers=staff)
            assert response.status == 200
            assert (await response.json())["status"] == "stopped"
        assert await AuditEntry.filter(action="coupon_template.stop").count() == 1
        missing = await client.post(f"{BASE}/999/stop", headers=staff)
        assert await error_code(missing) == "template_not_found"

    async def test_unused_template_can_be_deleted(
        self, client: TestClient, staff: dict[str, str], new_template: TemplateMaker
    ) -> None:
        template = await new_template()
        response = await client.delete(f"{BASE}/{template.id}", headers=staff)
        assert response.status == 204
        assert not await CouponTemplate.exists(id=template.id)
        assert await AuditEntry.filter(action="coupon_template.delete").count() == 1
        again = await client.delete(f"{BASE}/{template.id}", headers=staff)
        assert await error_code(again) == "template_not_found"

    async def test_template_with_coupons_cannot_be_deleted(
        self,
        client: TestClient,
        services: Services,
        staff: dict[str, str],
        new_template: TemplateMaker,
        new_member: MemberMaker,
    ) -> None:
        template = await new_template()
        member, _ = await new_member()
        await issue_coupon(services, member.id, template.id, reason="t", idempotency_key="k")
        response = await client.delete(f"{BASE}/{template.id}", headers=staff)
        assert response.status == 409
        assert await error_code(response) == "template_in_use"
        assert await CouponTemplate.exists(id=template.id)
        assert await AuditEntry.filter(action="coupon_template.delete").count() == 0
