"""Operators manage mall items: create, list, edit, stock and code pools; every write audited."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.conftest import StaffLogin
from tests.mall.kit import MallKit
from tests.support.http import error_code
from wxmember.core.models import AuditEntry, Tier
from wxmember.core.models.mall import MallCode, MallItem

ITEMS = "/admin/api/v1/mall/items"


def physical(**fields: Any) -> dict[str, Any]:
    return {"title": "随行杯", "kind": "physical", "points_price": 3000, "stock": 20} | fields


class TestCreateItem:
    async def test_creates_an_item_and_audits_it(
        self, client: TestClient, login_as: StaffLogin
    ) -> None:
        headers = await login_as("operator", "olga")
        body = physical(
            description="350ml",
            images=["https://img.example.com/a.jpg"],
            limit_period="month",
            limit_count=2,
            sale_starts_at="2025-01-01T00:00:00+08:00",
            sale_ends_at="2025-02-01T00:00:00+08:00",
            display_order=3,
            active=True,
        )
        response = await client.post(ITEMS, json=body, headers=headers)
        assert response.status == 201, await response.text()
        item = await response.json()
        assert item["title"] == "随行杯"
        assert item["stock"] == 20
        assert item["sold"] == 0
        assert item["limit_period"] == "month"
        assert item["limit_count"] == 2
        assert item["tier_levels"] == []
        assert item["sale_starts_at"].startswith("2024-12-31T16:00:00")
        entry = await AuditEntry.get(action="mall_item.create")
        assert entry.actor == "olga"
        assert entry.target_id == str(item["id"])
        assert entry.after is not None
        assert entry.after["points_price"] == 3000

    async def test_items_start_off(self, client: TestClient, login_as: StaffLogin) -> None:
        response = await client.post(ITEMS, json=physical(), headers=await login_as("owner"))
        assert (await response.json())["active"] is False

    async def test_coupon_item_names_an_existing_template(
        self, client: TestClient, login_as: StaffLogin, mall: MallKit
    ) -> None:
        headers = await login_as("operator")
        template = await mall.coupon_template()
        body = physical(kind="coupon", coupon_template_id=template.id)
        assert (await client.post(ITEMS, json=body, headers=headers)).status == 201
        for bad in (physical(kind="coupon"), physical(kind="coupon", coupon_template_id=999)):
            response = await client.post(ITEMS, json=bad, headers=headers)
            assert response.status == 400
            assert await error_code(response) == "invalid_coupon_template_id"

    async def test_only_coupon_items_have_a_template(
        self, client: TestClient, login_as: StaffLogin, mall: MallKit
    ) -> None:
        template = await mall.coupon_template()
        response = await client.post(
            ITEMS, json=physical(coupon_template_id=template.id), headers=await login_as("owner")
        )
        assert response.status == 400
        assert await error_code(response) == "invalid_coupon_template_id"

    @pytest.mark.parametrize(
        ("fields", "code"),
        [
            ({"title": ""}, "invalid_title"),
            ({"title": "长" * 41}, "invalid_title"),
            ({"description": "x" * 2001}, "invalid_description"),
            ({"images": ["http://img.example.com/a.jpg"]}, "invalid_images"),
            ({"images": ["not a url"]}, "invalid_images"),
            ({"images": [f"https://img.example.com/{n}.jpg" for n in range(10)]}, "invalid_images"),
            ({"kind": "food"}, "invalid_kind"),
            ({"points_price": 0}, "invalid_points_price"),
            ({"points_price": 10_000_001}, "invalid_points_price"),
            ({"points_price": "100"}, "invalid_points_price"),
            ({"points_price": True}, "invalid_points_price"),
            ({"stock": -1}, "invalid_stock"),
            ({"limit_period": "week"}, "invalid_limit_period"),
            ({"limit_count": 0}, "invalid_limit_count"),
            ({"tier_levels": ["gold"]}, "invalid_tier_levels"),
            ({"sale_starts_at": "2025-01-01T00:00:00"}, "invalid_sale_starts_at"),
            ({"display_order": 10_000_000}, "invalid_display_order"),
            ({"colour": "red"}, "invalid_colour"),
        ],
    )
    async def test_bad_fields_are_400(
        self, client: TestClient, login_as: StaffLogin, fields: dict[str, Any], code: str
    ) -> None:
        response = await client.post(
            ITEMS, json=physical(**fields), headers=await login_as("operator")
        )
        assert response.status == 400
        assert await error_code(response) == code
        assert not await MallItem.exists()

    async def test_sale_window_must_end_after_it_starts(
        self, client: TestClient, login_as: StaffLogin
    ) -> None:
        body = physical(
            sale_starts_at="2025-02-01T00:00:00+08:00", sale_ends_at="2025-01-01T00:00:00+08:00"
        )
        response = await client.post(ITEMS, json=body, headers=await login_as("operator"))
        assert response.status == 400
        assert await error_code(response) == "invalid_sale_window"

    async def test_tier_levels_must_be_tiers(
        self, client: TestClient, login_as: StaffLogin
    ) -> None:
        headers = await login_as("operator")
        await Tier.create(name="银卡", level=1)
        ok = await client.post(ITEMS, json=physical(tier_levels=[1]), headers=headers)
        assert ok.status == 201
        for levels in ([1, 7], [1, 1]):
            response = await client.post(ITEMS, json=physical(tier_levels=levels), headers=headers)
            assert response.status == 400
            assert await error_code(response) == "invalid_tier_levels"

    async def test_virtual_items_get_stock_from_codes_only(
        self, client: TestClient, login_as: StaffLogin
    ) -> None:
        headers = await login_as("operator")
        response = await client.post(ITEMS, json=physical(kind="virtual"), headers=headers)
        assert response.status == 400
        assert await error_code(response) == "invalid_stock"
        empty = await client.post(ITEMS, json=physical(kind="virtual", stock=0), headers=headers)
        assert empty.status == 201

    async def test_cashiers_may_not(self, client: TestClient, login_as: StaffLogin) -> None:
        response = await client.post(ITEMS, json=physical(), headers=await login_as("cashier"))
        assert response.status == 403
        assert await error_code(response) == "role_not_allowed"


class TestListAndShowItems:
    async def test_newest_first_with_paging_and_filters(
        self, client: TestClient, login_as: StaffLogin, mall: MallKit
    ) -> None:
        headers = await login_as("operator")
        ids = [(await mall.item(title=f"物品{n}", active=n % 2 == 0)).id for n in range(5)]
        coupon = await mall.item(kind="coupon")
        first = await (await client.get(f"{ITEMS}?limit=4", headers=headers)).json()
        assert [item["id"] for item in first["items"]] == [coupon.id, *ids[::-1][:3]]
        rest = await (
            await client.get(f"{ITEMS}?limit=4&cursor={first['next_cursor']}", headers=headers)
        ).json()
        assert [item["id"] for item in rest["items"]] == ids[1::-1]
        assert rest["next_cursor"] is None
        coupons = await (await client.get(f"{ITEMS}?kind=coupon", headers=headers)).json()
        assert [item["id"] for item in coupons["items"]] == [coupon.id]
        off = await (await client.get(f"{ITEMS}?active=0", headers=headers)).json()
        assert [item["id"] for item in off["items"]] == [ids[3], ids[1]]

    @pytest.mark.parametrize(
        ("query", "code"),
        [
            ("kind=food", "invalid_kind"),
            ("active=maybe", "invalid_active"),
            ("limit=0", "invalid_limit"),
        ],
    )
    async def test_bad_filters_are_400(
        self, client: TestClient, login_as: StaffLogin, query: str, code: str
    ) -> None:
        response = await client.get(f"{ITEMS}?{query}", headers=await login_as("operator"))
        assert response.status == 400
        assert await error_code(response) == code

    async def test_one_item_or_404(
        self, client: TestClient, login_as: StaffLogin, mall: MallKit
    ) -> None:
        headers = await login_as("owner")
        item = await mall.item()
        response = await client.get(f"{ITEMS}/{item.id}", headers=headers)
        assert (await response.json())["title"] == "随行杯"
        for path in (f"{ITEMS}/999", f"{ITEMS}/abc"):
            response = await client.get(path, headers=headers)
            assert response.status == 404
        assert await error_code(await client.get(f"{ITEMS}/999", headers=headers)) == (
            "item_not_found"
        )


class TestUpdateItem:
    async def test_changes_are_audited_with_before_and_after(
        self, client: TestClient, login_as: StaffLogin, mall: MallKit
    ) -> None:
        headers = await login_as("operator", "olga")
        item = await mall.item(points_price=100, limit_count=3)
        response = await client.patch(
            f"{ITEMS}/{item.id}",
            json={"points_price": 150, "limit_count": None, "title": "新杯子"},
            headers=headers,
        )
        assert response.status == 200, await response.text()
        body = await response.json()
        assert (body["points_price"], body["limit_count"], body["title"]) == (150, None, "新杯子")
        entry = await AuditEntry.get(action="mall_item.update")
        assert entry.before is not None and entry.after is not None
        assert entry.before["points_price"] == 100
        assert entry.after["points_price"] == 150
        assert entry.before["limit_count"] == 3

    async def test_kind_and_stock_cannot_be_patched(
        self, client: TestClient, login_as: StaffLogin, mall: MallKit
    ) -> None:
        headers = await login_as("operator")
        item = await mall.item()
        for body, code in (({"kind": "virtual"}, "invalid_kind"), ({"stock": 5}, "invalid_stock")):
            response = await client.patch(f"{ITEMS}/{item.id}", json=body, headers=headers)
            assert response.status == 400
            assert await error_code(response) == code

    async def test_window_is_checked_against_the_stored_end(
        self, client: TestClient, login_as: StaffLogin, mall: MallKit
    ) -> None:
        from datetime import UTC, datetime

        item = await mall.item(sale_ends_at=datetime(2025, 1, 1, tzinfo=UTC))
        response = await client.patch(
            f"{ITEMS}/{item.id}",
            json={"sale_starts_at": "2025-06-01T00:00:00+08:00"},
            headers=await login_as("operator"),
        )
        assert response.status == 400
        assert await error_code(response) == "invalid_sale_window"

    async def test_unknown_item_is_404(self, client: TestClient, login_as: StaffLogin) -> None:
        response = await client.patch(
            f"{ITEMS}/42", json={"active": True}, headers=await login_as("operator")
        )
        assert response.status == 404
        assert await error_code(response) == "item_not_found"


class TestStock:
    async def test_adds_and_withdraws_stock_audited(
        self, client: TestClient, login_as: StaffLogin, mall: MallKit
    ) -> None:
        headers = await login_as("operator")
        item = await mall.item(stock=10)
        added = await client.post(f"{ITEMS}/{item.id}/stock", json={"add": 15}, headers=headers)
        assert (await added.json())["stock"] == 25
        taken = await client.post(f"{ITEMS}/{item.id}/stock", json={"add": -5}, headers=headers)
        assert (await taken.json())["stock"] == 20
        entries = await AuditEntry.filter(action="mall_item.stock").order_by("id")
        assert [((e.before or {})["stock"], (e.after or {})["stock"]) for e in entries] == [
            (10, 25),
            (25, 20),
        ]

    async def test_concurrent_additions_all_count(
        self, client: TestClient, login_as: StaffLogin, mall: MallKit
    ) -> None:
        headers = await login_as("operator")
        item = await mall.item(stock=0)
        responses = await asyncio.gather(
            *(
                client.post(f"{ITEMS}/{item.id}/stock", json={"add": 5}, headers=headers)
                for _ in range(20)
            )
        )
        assert [r.status for r in responses] == [200] * 20
        assert (await MallItem.get(id=item.id)).stock == 100

    @pytest.mark.parametrize(
        ("add", "status", "code"),
        [
            (-11, 409, "stock_too_low"),
            (10_000_000, 409, "stock_too_high"),
            (0, 400, "invalid_add"),
            (1.5, 400, "invalid_add"),
        ],
    )
    async def test_refused_changes_leave_stock_alone(
        self,
        client: TestClient,
        login_as: StaffLogin,
        mall: MallKit,
        add: float,
        status: int,
        code: str,
    ) -> None:
        item = await mall.item(stock=10)
        response = await client.post(
            f"{ITEMS}/{item.id}/stock", json={"add": add}, headers=await login_as("operator")
        )
        assert response.status == status
        assert await error_code(response) == code
        assert (await MallItem.get(id=item.id)).stock == 10

    async def test_virtual_stock_comes_from_codes(
        self, client: TestClient, login_as: StaffLogin, mall: MallKit
    ) -> None:
        item = await mall.virtual_item(["A-1"])
        response = await client.post(
            f"{ITEMS}/{item.id}/stock", json={"add": 5}, headers=await login_as("operator")
        )
        assert response.status == 409
        assert await error_code(response) == "stock_from_codes"

    async def test_unknown_item_is_404(self, client: TestClient, login_as: StaffLogin) -> None:
        response = await client.post(
            f"{ITEMS}/9/stock", json={"add": 5}, headers=await login_as("operator")
        )
        assert response.status == 404
        assert await error_code(response) == "item_not_found"


class TestUploadCodes:
    async def test_adds_new_codes_to_the_pool_and_stock(
        self, client: TestClient, login_as: StaffLogin, mall: MallKit
    ) -> None:
        headers = await login_as("operator")
        item = await mall.virtual_item(["OLD-1"])
        response = await client.post(
            f"{ITEMS}/{item.id}/codes",
            json={"codes": ["NEW-1", "NEW-2", "NEW-1", "OLD-1", " NEW-3 "]},
            headers=headers,
        )
        assert response.status == 200, await response.text()
        body = await response.json()
        assert (body["added"], body["skipped"], body["item"]["stock"]) == (3, 2, 4)
        codes = await MallCode.filter(item_id=item.id).values_list("code", flat=True)
        assert sorted(codes) == ["NEW-1", "NEW-2", "NEW-3", "OLD-1"]
        entry = await AuditEntry.get(action="mall_item.codes")
        assert entry.after == {"stock": 4, "codes_added": 3}
        assert "NEW-1" not in str(entry.after)

    async def test_concurrent_uploads_of_the_same_codes_count_once(
        self, client: TestClient, login_as: StaffLogin, mall: MallKit
    ) -> None:
        headers = await login_as("operator")
        item = await mall.virtual_item([])
        batches = [[f"C-{n}" for n in range(start, start + 10)] for start in range(0, 50, 5)]
        responses = await asyncio.gather(
            *(
                client.post(f"{ITEMS}/{item.id}/codes", json={"codes": batch}, headers=headers)
                for batch in batches
            )
        )
        assert [r.status for r in responses] == [200] * len(batches)
        stored = await MallCode.filter(item_id=item.id).count()
        assert stored == 55
        assert (await MallItem.get(id=item.id)).stock == 55

    async def test_only_virtual_items_take_codes(
        self, client: TestClient, login_as: StaffLogin, mall: MallKit
    ) -> None:
        item = await mall.item()
        response = await client.post(
            f"{ITEMS}/{item.id}/codes", json={"codes": ["X-1"]}, headers=await login_as("owner")
        )
        assert response.status == 409
        assert await error_code(response) == "not_virtual"

    @pytest.mark.parametrize("codes", [[], [""], ["x" * 65], "ABC"])
    async def test_bad_codes_are_400(
        self, client: TestClient, login_as: StaffLogin, mall: MallKit, codes: object
    ) -> None:
        item = await mall.virtual_item([])
        response = await client.post(
            f"{ITEMS}/{item.id}/codes", json={"codes": codes}, headers=await login_as("owner")
        )
        assert response.status == 400
        assert await error_code(response) == "invalid_codes"

    async def test_unknown_item_is_404(self, client: TestClient, login_as: StaffLogin) -> None:
        response = await client.post(
            f"{ITEMS}/5/codes", json={"codes": ["A"]}, headers=await login_as("owner")
        )
        assert response.status == 404
        assert await error_code(response) == "item_not_found"
