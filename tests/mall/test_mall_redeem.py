"""Redeeming an item: points, stock, limits and the order move together, or not at all."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.conftest import StaffLogin
from tests.mall.kit import ADDRESS, MallKit, Shopper, balance, new_key
from tests.support.http import error_code
from tests.support.ledger import assert_ledger_consistent
from wxmember.core.clock import FrozenClock
from wxmember.core.context import Services
from wxmember.core.models.coupons import Coupon, CouponTemplate
from wxmember.core.models.mall import (
    ItemKind,
    LimitPeriod,
    MallCode,
    MallItem,
    MallOrder,
    MallRedemptionCount,
)
from wxmember.core.models.points import EntryKind, PointsEntry

REDEEM = "/api/v1/mall/redemptions"


async def assert_no_trace(shopper: Shopper, item: MallItem, points_before: int) -> None:
    """Nothing of a refused redemption remains: points, stock, counters, order."""
    assert await balance(shopper.id) == points_before
    assert not await PointsEntry.filter(member_id=shopper.id, kind=EntryKind.SPEND).exists()
    fresh = await MallItem.get(id=item.id)
    assert (fresh.stock, fresh.sold) == (item.stock, item.sold)
    assert not await MallOrder.filter(member_id=shopper.id).exists()
    assert not await MallRedemptionCount.filter(member_id=shopper.id).exists()
    await assert_ledger_consistent(shopper.id)


class TestRedeemCoupon:
    async def test_issues_coupons_at_once(self, mall: MallKit) -> None:
        shopper = await mall.shopper(1000)
        item = await mall.item(kind=ItemKind.COUPON, points_price=200, stock=5)
        order = await mall.redeemed(shopper, item.id, quantity=2)
        assert order["state"] == "completed"
        assert order["completed_at"] is not None
        assert (order["quantity"], order["unit_price"], order["points_total"]) == (2, 200, 400)
        coupons = await Coupon.filter(member_id=shopper.id).order_by("id")
        assert len(coupons) == 2
        assert order["coupons"] == [{"id": c.id, "code": c.code} for c in coupons]
        assert all(c.template_id == item.coupon_template_id for c in coupons)
        assert await balance(shopper.id) == 600
        assert (await MallItem.get(id=item.id)).stock == 3
        await assert_ledger_consistent(shopper.id)

    async def test_spend_names_the_order(self, mall: MallKit) -> None:
        shopper = await mall.shopper(1000)
        item = await mall.item(kind=ItemKind.COUPON)
        order = await mall.redeemed(shopper, item.id)
        spend = await PointsEntry.get(member_id=shopper.id, kind=EntryKind.SPEND)
        assert spend.amount == -100
        assert spend.reference == f"mall_order:{order['id']}"


class TestRedeemPhysical:
    async def test_pending_with_the_address_masked(self, mall: MallKit) -> None:
        shopper = await mall.shopper(1000)
        item = await mall.item(points_price=300)
        order = await mall.redeemed(shopper, item.id, address=ADDRESS)
        assert order["state"] == "pending"
        assert order["address"] == ADDRESS | {"phone": "138****5678"}
        assert order["shipping"] is None
        assert order["completed_at"] is None
        assert await balance(shopper.id) == 700

    async def test_phone_is_stored_encrypted(self, mall: MallKit, services: Services) -> None:
        shopper = await mall.shopper(1000)
        item = await mall.item()
        order = await mall.redeemed(shopper, item.id, address=ADDRESS)
        stored = await MallOrder.get(id=order["id"])
        assert stored.phone_enc is not None
        assert "13812345678" not in stored.phone_enc
        assert services.cipher.decrypt(stored.phone_enc) == "13812345678"

    async def test_address_is_required(self, mall: MallKit) -> None:
        shopper = await mall.shopper(1000)
        item = await mall.item()
        response = await mall.redeem(shopper, item.id)
        assert response.status == 400
        assert await error_code(response) == "address_required"
        await assert_no_trace(shopper, item, 1000)

    @pytest.mark.parametrize(
        "change",
        [
            {"phone": "1381234567"},
            {"phone": "12812345678"},
            {"phone": "138-1234-5678"},
            {"recipient": ""},
            {"recipient": "名" * 21},
            {"region": "区" * 51},
            {"detail": " "},
            {"detail": "路" * 121},
            {"postcode": "200000"},
        ],
    )
    async def test_bad_address_fields_are_400(self, mall: MallKit, change: dict) -> None:
        shopper = await mall.shopper(1000)
        item = await mall.item()
        response = await mall.redeem(shopper, item.id, address=ADDRESS | change)
        assert response.status == 400
        assert await error_code(response) == "invalid_address"

    async def test_no_address_kept_for_other_kinds(self, mall: MallKit) -> None:
        shopper = await mall.shopper(1000)
        item = await mall.item(kind=ItemKind.COUPON)
        order = await mall.redeemed(shopper, item.id, address=ADDRESS)
        assert order["address"] is None
        assert (await MallOrder.get(id=order["id"])).phone_enc is None


class TestRedeemVirtual:
    async def test_assigns_codes_from_the_pool(self, mall: MallKit) -> None:
        shopper = await mall.shopper(1000)
        item = await mall.virtual_item(["V-1", "V-2", "V-3"])
        first = await mall.redeemed(shopper, item.id, quantity=2)
        second = await mall.redeemed(shopper, item.id)
        assert first["state"] == "completed"
        assert sorted(first["codes"] + second["codes"]) == ["V-1", "V-2", "V-3"]
        assigned = await MallCode.filter(item_id=item.id, order_id=first["id"]).count()
        assert assigned == 2
        assert (await MallItem.get(id=item.id)).stock == 0
        sold_out = await mall.redeem(shopper, item.id)
        assert await error_code(sold_out) == "sold_out"

    async def test_member_sees_their_codes_later(self, client: TestClient, mall: MallKit) -> None:
        shopper = await mall.shopper(1000)
        item = await mall.virtual_item(["V-9"])
        order = await mall.redeemed(shopper, item.id)
        response = await client.get(f"{REDEEM}/{order['id']}", headers=shopper.headers)
        assert (await response.json())["codes"] == ["V-9"]


class TestIdempotency:
    @pytest.mark.parametrize("key", [None, "", "short", "has space 123", "x" * 65, "ünïcode-key"])
    async def test_key_is_required_and_well_formed(
        self, client: TestClient, mall: MallKit, key: str | None
    ) -> None:
        shopper = await mall.shopper(1000)
        item = await mall.item(kind=ItemKind.COUPON)
        headers = shopper.headers | ({"Idempotency-Key": key} if key is not None else {})
        response = await client.post(REDEEM, json={"item_id": item.id}, headers=headers)
        assert response.status == 400
        assert await error_code(response) == "idempotency_key_required"
        await assert_no_trace(shopper, item, 1000)

    async def test_retry_returns_the_first_order(self, mall: MallKit) -> None:
        shopper = await mall.shopper(1000)
        item = await mall.item(kind=ItemKind.COUPON, points_price=100)
        first = await mall.redeem(shopper, item.id, key="retry-key-1")
        assert first.status == 201
        again = await mall.redeem(shopper, item.id, key="retry-key-1")
        assert again.status == 200
        assert again.headers["Idempotent-Replayed"] == "true"
        assert await again.json() == await first.json()
        assert await balance(shopper.id) == 900
        assert await MallOrder.filter(member_id=shopper.id).count() == 1
        assert await Coupon.filter(member_id=shopper.id).count() == 1

    async def test_retry_after_the_item_sold_out_still_answers(self, mall: MallKit) -> None:
        shopper = await mall.shopper(1000)
        item = await mall.item(kind=ItemKind.COUPON, stock=1)
        first = await mall.redeem(shopper, item.id, key="retry-key-2")
        await MallItem.filter(id=item.id).update(active=False)
        again = await mall.redeem(shopper, item.id, key="retry-key-2")
        assert again.status == 200
        assert (await again.json())["id"] == (await first.json())["id"]

    async def test_same_key_for_another_request_is_409(self, mall: MallKit) -> None:
        shopper = await mall.shopper(1000)
        item = await mall.item(kind=ItemKind.COUPON)
        await mall.redeemed(shopper, item.id, key="reused-key-1")
        response = await mall.redeem(shopper, item.id, quantity=2, key="reused-key-1")
        assert response.status == 409
        assert await error_code(response) == "idempotency_key_reused"
        assert await MallOrder.filter(member_id=shopper.id).count() == 1

    async def test_keys_belong_to_one_member(self, mall: MallKit) -> None:
        alice, bob = await mall.shopper(1000), await mall.shopper(1000)
        item = await mall.item(kind=ItemKind.COUPON)
        first = await mall.redeemed(alice, item.id, key="shared-key-1")
        second = await mall.redeemed(bob, item.id, key="shared-key-1")
        assert first["id"] != second["id"]

    async def test_a_refused_request_may_be_retried(self, mall: MallKit) -> None:
        shopper = await mall.shopper(50)
        item = await mall.item(kind=ItemKind.COUPON, points_price=100)
        refused = await mall.redeem(shopper, item.id, key="later-key-1")
        assert await error_code(refused) == "insufficient_points"
        await mall.shopper()  # unrelated activity in between
        from handlers import points

        await points.earn(
            mall.services, shopper.id, 50, reason="test grant", idempotency_key="test-earn:more"
        )
        retried = await mall.redeem(shopper, item.id, key="later-key-1")
        assert retried.status == 201


class TestRefusals:
    async def test_unknown_item_is_404(self, mall: MallKit) -> None:
        shopper = await mall.shopper(1000)
        response = await mall.redeem(shopper, 999)
        assert response.status == 404
        assert await error_code(response) == "item_not_found"

    @pytest.mark.parametrize(
        "fields",
        [
            {"active": False},
            {"sale_starts_at": datetime.now(UTC) + timedelta(days=1)},
            {"sale_ends_at": datetime.now(UTC) - timedelta(days=1)},
        ],
    )
    async def test_not_on_sale(self, mall: MallKit, fields: dict[str, Any]) -> None:
        shopper = await mall.shopper(1000)
        item = await mall.item(kind=ItemKind.COUPON, **fields)
        response = await mall.redeem(shopper, item.id)
        assert response.status == 409
        assert await error_code(response) == "not_on_sale"
        await assert_no_trace(shopper, item, 1000)

    async def test_not_eligible(self, mall: MallKit) -> None:
        shopper = await mall.shopper(1000)
        await mall.shopper(level=2)
        item = await mall.item(kind=ItemKind.COUPON, tier_levels=[2])
        response = await mall.redeem(shopper, item.id)
        assert response.status == 409
        assert await error_code(response) == "not_eligible"
        gold = await mall.shopper(1000, level=2)
        assert (await mall.redeem(gold, item.id)).status == 201

    @pytest.mark.parametrize(("stock", "quantity"), [(0, 1), (2, 3)])
    async def test_sold_out(self, mall: MallKit, stock: int, quantity: int) -> None:
        shopper = await mall.shopper(1000)
        item = await mall.item(kind=ItemKind.COUPON, stock=stock)
        response = await mall.redeem(shopper, item.id, quantity=quantity)
        assert response.status == 409
        assert await error_code(response) == "sold_out"
        await assert_no_trace(shopper, item, 1000)

    async def test_insufficient_points(self, mall: MallKit) -> None:
        shopper = await mall.shopper(299)
        item = await mall.item(kind=ItemKind.COUPON, points_price=100)
        response = await mall.redeem(shopper, item.id, quantity=3)
        assert response.status == 409
        body = await response.json()
        assert body["error"]["code"] == "insufficient_points"
        assert body["error"]["details"] == {"needed": 300, "balance": 299}
        await assert_no_trace(shopper, item, 299)

    async def test_lifetime_limit(self, mall: MallKit) -> None:
        shopper = await mall.shopper(10_000)
        item = await mall.item(kind=ItemKind.COUPON, limit_count=3)
        await mall.redeemed(shopper, item.id, quantity=2)
        too_many = await mall.redeem(shopper, item.id, quantity=2)
        assert too_many.status == 409
        assert await error_code(too_many) == "limit_reached"
        await mall.redeemed(shopper, item.id)
        again = await mall.redeem(shopper, item.id)
        assert await error_code(again) == "limit_reached"
        assert await balance(shopper.id) == 10_000 - 300
        await assert_ledger_consistent(shopper.id)

    async def test_a_first_redemption_above_the_limit_is_refused(self, mall: MallKit) -> None:
        shopper = await mall.shopper(10_000)
        item = await mall.item(kind=ItemKind.COUPON, limit_count=2)
        too_many = await mall.redeem(shopper, item.id, quantity=3)
        assert await error_code(too_many) == "limit_reached"
        await assert_no_trace(shopper, item, 10_000)
        await mall.redeemed(shopper, item.id, quantity=2)

    async def test_the_monthly_counter_grows_beside_a_lifetime_limit(self, mall: MallKit) -> None:
        shopper = await mall.shopper(10_000)
        item = await mall.item(kind=ItemKind.COUPON, limit_count=3)
        for _ in range(3):
            await mall.redeemed(shopper, item.id)
        counts = await MallRedemptionCount.filter(member_id=shopper.id, item_id=item.id)
        assert sorted(c.count for c in counts) == [3, 3]

    async def test_monthly_limit_starts_again_next_local_month(
        self, mall: MallKit, services: Services
    ) -> None:
        # 23:30 on 31 March in Shanghai is still March there, but already 15:30 UTC.
        services.clock = FrozenClock(datetime(2025, 3, 31, 15, 30, tzinfo=UTC))
        shopper = await mall.shopper(1000)
        item = await mall.item(kind=ItemKind.COUPON, limit_period=LimitPeriod.MONTH, limit_count=1)
        await mall.redeemed(shopper, item.id)
        refused = await mall.redeem(shopper, item.id)
        assert await error_code(refused) == "limit_reached"
        services.clock.advance(minutes=31)
        assert (await mall.redeem(shopper, item.id)).status == 201

    async def test_limit_set_later_counts_earlier_redemptions(self, mall: MallKit) -> None:
        shopper = await mall.shopper(1000)
        item = await mall.item(kind=ItemKind.COUPON)
        await mall.redeemed(shopper, item.id, quantity=2)
        await MallItem.filter(id=item.id).update(limit_count=2)
        response = await mall.redeem(shopper, item.id)
        assert await error_code(response) == "limit_reached"

    @pytest.mark.parametrize(
        ("body", "code"),
        [
            ({"item_id": 1, "quantity": 0}, "invalid_quantity"),
            ({"item_id": 1, "quantity": 11}, "invalid_quantity"),
            ({"item_id": 1, "quantity": "2"}, "invalid_quantity"),
            ({"item_id": "1"}, "invalid_item_id"),
            ({}, "invalid_item_id"),
            ({"item_id": 1, "note": "x"}, "invalid_note"),
        ],
    )
    async def test_bad_bodies_are_400(
        self, client: TestClient, mall: MallKit, body: dict, code: str
    ) -> None:
        shopper = await mall.shopper(1000)
        response = await client.post(
            REDEEM, json=body, headers=shopper.headers | {"Idempotency-Key": new_key()}
        )
        assert response.status == 400
        assert await error_code(response) == code

    async def test_needs_a_session(self, client: TestClient) -> None:
        response = await client.post(
            REDEEM, json={"item_id": 1}, headers={"Idempotency-Key": new_key()}
        )
        assert response.status == 401


class TestPriceChanges:
    async def test_orders_keep_the_price_they_paid(
        self, client: TestClient, mall: MallKit, login_as: StaffLogin
    ) -> None:
        shopper = await mall.shopper(1000)
        item = await mall.item(kind=ItemKind.COUPON, points_price=100)
        before = await mall.redeemed(shopper, item.id)
        response = await client.patch(
            f"/admin/api/v1/mall/items/{item.id}",
            json={"points_price": 250},
            headers=await login_as("operator"),
        )
        assert response.status == 200
        after = await mall.redeemed(shopper, item.id)
        assert (before["unit_price"], after["unit_price"]) == (100, 250)
        listed = await client.get(REDEEM, headers=shopper.headers)
        prices = [order["unit_price"] for order in (await listed.json())["items"]]
        assert prices == [250, 100]
        assert await balance(shopper.id) == 650


class TestFailureAfterSpending:
    """The coupon is issued after the points are spent; if that fails, nothing happened."""

    @pytest.mark.parametrize(
        ("breakage", "code"),
        [
            ({"stopped": True}, "not_on_sale"),
            ({"total_stock": 1, "remaining": 0}, "sold_out"),
            ("delete", "not_on_sale"),
        ],
    )
    async def test_coupon_that_cannot_be_issued_leaves_no_trace(
        self, mall: MallKit, breakage: dict[str, Any] | str, code: str
    ) -> None:
        shopper = await mall.shopper(1000)
        template = await mall.coupon_template()
        item = await mall.item(kind=ItemKind.COUPON, coupon_template_id=template.id, stock=5)
        if breakage == "delete":
            await template.delete()
        else:
            assert isinstance(breakage, dict)
            await CouponTemplate.filter(id=template.id).update(**breakage)
        response = await mall.redeem(shopper, item.id, key="broken-coupon-1")
        assert response.status == 409
        assert await error_code(response) == code
        await assert_no_trace(shopper, item, 1000)
        assert not await Coupon.filter(member_id=shopper.id).exists()

    async def test_the_coupons_stock_is_taken_for_every_unit_or_none(self, mall: MallKit) -> None:
        shopper = await mall.shopper(1000)
        template = await mall.coupon_template()
        await CouponTemplate.filter(id=template.id).update(total_stock=5, remaining=2, claimed=3)
        item = await mall.item(kind=ItemKind.COUPON, coupon_template_id=template.id, stock=5)

        refused = await mall.redeem(shopper, item.id, quantity=3)
        assert await error_code(refused) == "sold_out"
        await assert_no_trace(shopper, item, 1000)
        assert not await Coupon.filter(member_id=shopper.id).exists()

        await mall.redeemed(shopper, item.id, quantity=2)
        after = await CouponTemplate.get(id=template.id)
        assert (after.remaining, after.claimed) == (0, 5)
        assert await Coupon.filter(member_id=shopper.id).count() == 2

    async def test_same_key_works_once_the_coupon_is_back(self, mall: MallKit) -> None:
        shopper = await mall.shopper(1000)
        template = await mall.coupon_template(stopped=True)
        item = await mall.item(kind=ItemKind.COUPON, coupon_template_id=template.id)
        refused = await mall.redeem(shopper, item.id, key="broken-coupon-2")
        assert refused.status == 409
        await CouponTemplate.filter(id=template.id).update(stopped=False)
        response = await mall.redeem(shopper, item.id, key="broken-coupon-2")
        assert response.status == 201
        assert await balance(shopper.id) == 900
