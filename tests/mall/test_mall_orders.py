"""Orders after the redemption: the member's list, shipping, completing and cancelling."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp.test_utils import TestClient

from handlers import points
from tests.conftest import StaffLogin
from tests.mall.kit import ADDRESS, MallKit, Shopper, balance
from tests.support.http import error_code
from tests.support.ledger import assert_ledger_consistent
from wxmember.core.clock import FrozenClock
from wxmember.core.context import Services
from wxmember.core.models import AuditEntry
from wxmember.core.models.mall import ItemKind, MallItem, MallOrder
from wxmember.core.models.points import EntryKind, PointsEntry, PointsLot

MINE = "/api/v1/mall/redemptions"
ADMIN = "/admin/api/v1/mall/redemptions"


async def physical_order(mall: MallKit, shopper: Shopper, **item_fields: object) -> dict:
    item = await mall.item(points_price=300, stock=5, **item_fields)
    return await mall.redeemed(shopper, item.id, address=ADDRESS)


class TestMyOrders:
    async def test_newest_first_in_pages(self, client: TestClient, mall: MallKit) -> None:
        shopper = await mall.shopper(10_000)
        other = await mall.shopper(10_000)
        item = await mall.item(kind=ItemKind.COUPON)
        ids = [(await mall.redeemed(shopper, item.id))["id"] for _ in range(3)]
        await mall.redeemed(other, item.id)
        first = await (await client.get(f"{MINE}?limit=2", headers=shopper.headers)).json()
        assert [order["id"] for order in first["items"]] == ids[:0:-1]
        rest = await (
            await client.get(
                f"{MINE}?limit=2&cursor={first['next_cursor']}", headers=shopper.headers
            )
        ).json()
        assert [order["id"] for order in rest["items"]] == [ids[0]]
        assert rest["next_cursor"] is None

    async def test_filter_by_state(self, client: TestClient, mall: MallKit) -> None:
        shopper = await mall.shopper(10_000)
        pending = await physical_order(mall, shopper)
        await mall.redeemed(shopper, (await mall.item(kind=ItemKind.COUPON)).id)
        response = await client.get(f"{MINE}?state=pending", headers=shopper.headers)
        assert [order["id"] for order in (await response.json())["items"]] == [pending["id"]]
        bad = await client.get(f"{MINE}?state=lost", headers=shopper.headers)
        assert bad.status == 400
        assert await error_code(bad) == "invalid_state_filter"

    async def test_someone_elses_order_is_404(self, client: TestClient, mall: MallKit) -> None:
        shopper, other = await mall.shopper(1000), await mall.shopper()
        order = await physical_order(mall, shopper)
        response = await client.get(f"{MINE}/{order['id']}", headers=other.headers)
        assert response.status == 404
        assert await error_code(response) == "order_not_found"


class TestMemberCancel:
    async def test_refunds_points_and_restores_stock_and_allowance(
        self, client: TestClient, mall: MallKit
    ) -> None:
        shopper = await mall.shopper(1000)
        order = await physical_order(mall, shopper, limit_count=1)
        item_id = order["item"]["id"]
        response = await client.post(f"{MINE}/{order['id']}/cancel", headers=shopper.headers)
        assert response.status == 200, await response.text()
        body = await response.json()
        assert body["state"] == "cancelled"
        assert body["cancel_reason"] == "cancelled by the member"
        assert await balance(shopper.id) == 1000
        item = await MallItem.get(id=item_id)
        assert (item.stock, item.sold) == (5, 0)
        refund = await PointsEntry.get(member_id=shopper.id, kind=EntryKind.REFUND)
        assert refund.amount == 300
        assert refund.idempotency_key == f"mall-cancel:{order['id']}"
        await assert_ledger_consistent(shopper.id)
        assert (await mall.redeem(shopper, item_id, address=ADDRESS)).status == 201

    async def test_refunded_points_keep_their_expiry(
        self, client: TestClient, mall: MallKit, services: Services
    ) -> None:
        services.clock = FrozenClock(datetime(2025, 5, 1, tzinfo=UTC))
        shopper = await mall.shopper()
        expiry = datetime(2025, 6, 30, 15, 59, 59, tzinfo=UTC)
        await points.earn(
            services, shopper.id, 500, reason="test", idempotency_key="e-1", expires_at=expiry
        )
        order = await physical_order(mall, shopper)
        await client.post(f"{MINE}/{order['id']}/cancel", headers=shopper.headers)
        lots = await PointsLot.filter(member_id=shopper.id, remaining__gt=0)
        assert sum(lot.remaining for lot in lots) == 500
        assert {lot.expires_at for lot in lots} == {expiry}

    async def test_may_give_a_reason(self, client: TestClient, mall: MallKit) -> None:
        shopper = await mall.shopper(1000)
        order = await physical_order(mall, shopper)
        response = await client.post(
            f"{MINE}/{order['id']}/cancel", json={"reason": "地址填错了"}, headers=shopper.headers
        )
        assert (await response.json())["cancel_reason"] == "地址填错了"

    async def test_concurrent_cancels_refund_once(self, client: TestClient, mall: MallKit) -> None:
        shopper = await mall.shopper(1000)
        order = await physical_order(mall, shopper)
        responses = await asyncio.gather(
            *(
                client.post(f"{MINE}/{order['id']}/cancel", headers=shopper.headers)
                for _ in range(10)
            )
        )
        statuses = sorted(r.status for r in responses)
        assert statuses == [200] + [409] * 9
        for response in responses:
            if response.status == 409:
                assert await error_code(response) == "invalid_state"
        assert await PointsEntry.filter(kind=EntryKind.REFUND).count() == 1
        assert await balance(shopper.id) == 1000
        assert (await MallItem.get(id=order["item"]["id"])).stock == 5
        await assert_ledger_consistent(shopper.id)

    async def test_completed_orders_cannot_be_cancelled(
        self, client: TestClient, mall: MallKit
    ) -> None:
        shopper = await mall.shopper(1000)
        order = await mall.redeemed(shopper, (await mall.item(kind=ItemKind.COUPON)).id)
        response = await client.post(f"{MINE}/{order['id']}/cancel", headers=shopper.headers)
        assert response.status == 409
        assert await error_code(response) == "invalid_state"
        assert await balance(shopper.id) == 900

    async def test_only_my_own_orders(self, client: TestClient, mall: MallKit) -> None:
        shopper, other = await mall.shopper(1000), await mall.shopper()
        order = await physical_order(mall, shopper)
        response = await client.post(f"{MINE}/{order['id']}/cancel", headers=other.headers)
        assert response.status == 404
        assert await error_code(response) == "order_not_found"
        assert (await MallOrder.get(id=order["id"])).state == "pending"


class TestOrderPhoneReveal:
    @pytest.mark.parametrize("role", ["owner", "operator"])
    async def test_the_phone_is_masked_by_default(
        self, client: TestClient, mall: MallKit, login_as: StaffLogin, role: str
    ) -> None:
        order = await physical_order(mall, await mall.shopper(1000))
        response = await client.get(f"{ADMIN}/{order['id']}", headers=await login_as(role))
        assert response.status == 200
        assert (await response.json())["address"]["phone"] == "138****5678"
        assert await AuditEntry.all().count() == 0

    async def test_an_owner_reveals_it_and_the_reveal_is_audited(
        self, client: TestClient, mall: MallKit, login_as: StaffLogin
    ) -> None:
        headers = await login_as("owner", "olivia")
        order = await physical_order(mall, await mall.shopper(1000))
        response = await client.get(
            f"{ADMIN}/{order['id']}?reveal=phone",
            headers=headers | {"X-Request-Id": "req-order-reveal-1"},
        )
        assert response.status == 200
        assert response.headers["Cache-Control"] == "no-store"
        assert (await response.json())["address"]["phone"] == "13812345678"
        entry = await AuditEntry.get(action="mall_order.reveal_phone")
        assert (entry.actor, entry.target_type, entry.target_id) == (
            "olivia",
            "mall_order",
            str(order["id"]),
        )
        assert entry.request_id == "req-order-reveal-1"
        assert "13812345678" not in str([entry.before, entry.after])

    async def test_an_operator_may_not_reveal_it(
        self, client: TestClient, mall: MallKit, login_as: StaffLogin
    ) -> None:
        order = await physical_order(mall, await mall.shopper(1000))
        response = await client.get(
            f"{ADMIN}/{order['id']}?reveal=phone", headers=await login_as("operator")
        )
        assert response.status == 403
        assert await error_code(response) == "reveal_not_allowed"
        assert await AuditEntry.all().count() == 0

    async def test_only_the_phone_can_be_revealed(
        self, client: TestClient, mall: MallKit, login_as: StaffLogin
    ) -> None:
        order = await physical_order(mall, await mall.shopper(1000))
        response = await client.get(
            f"{ADMIN}/{order['id']}?reveal=address", headers=await login_as("owner")
        )
        assert response.status == 400
        assert await error_code(response) == "invalid_reveal"

    async def test_an_order_without_an_address_reveals_nothing(
        self, client: TestClient, mall: MallKit, login_as: StaffLogin
    ) -> None:
        shopper = await mall.shopper(1000)
        order = await mall.redeemed(shopper, (await mall.item(kind=ItemKind.COUPON)).id)
        response = await client.get(
            f"{ADMIN}/{order['id']}?reveal=phone", headers=await login_as("owner")
        )
        assert (await response.json())["address"] is None
        assert await AuditEntry.all().count() == 0


class TestAdminOrders:
    async def test_lists_by_state_with_masked_phones(
        self, client: TestClient, mall: MallKit, login_as: StaffLogin
    ) -> None:
        headers = await login_as("operator")
        shopper = await mall.shopper(10_000)
        pending = await physical_order(mall, shopper)
        await mall.redeemed(shopper, (await mall.item(kind=ItemKind.COUPON)).id)
        response = await client.get(f"{ADMIN}?state=pending", headers=headers)
        items = (await response.json())["items"]
        assert [order["id"] for order in items] == [pending["id"]]
        assert items[0]["member_id"] == shopper.id
        assert items[0]["address"]["phone"] == "138****5678"
        everything = await client.get(f"{ADMIN}?member_id={shopper.id}", headers=headers)
        assert len((await everything.json())["items"]) == 2

    async def test_cashiers_may_not(self, client: TestClient, login_as: StaffLogin) -> None:
        response = await client.get(ADMIN, headers=await login_as("cashier"))
        assert response.status == 403

    @pytest.mark.parametrize(
        ("query", "code"),
        [("state=lost", "invalid_state_filter"), ("member_id=x", "invalid_member_id")],
    )
    async def test_bad_filters_are_400(
        self, client: TestClient, login_as: StaffLogin, query: str, code: str
    ) -> None:
        response = await client.get(f"{ADMIN}?{query}", headers=await login_as("operator"))
        assert response.status == 400
        assert await error_code(response) == code

    async def test_unknown_order_is_404(self, client: TestClient, login_as: StaffLogin) -> None:
        response = await client.get(f"{ADMIN}/77", headers=await login_as("operator"))
        assert response.status == 404
        assert await error_code(response) == "order_not_found"


class TestShipAndComplete:
    async def test_pending_to_shipped_to_completed_audited(
        self, client: TestClient, mall: MallKit, login_as: StaffLogin, services: Services
    ) -> None:
        headers = await login_as("operator", "olga")
        shopper = await mall.shopper(1000)
        order = await physical_order(mall, shopper)
        shipped = await client.post(
            f"{ADMIN}/{order['id']}/ship",
            json={"carrier": "顺丰速运", "tracking_no": "SF1234567890"},
            headers=headers,
        )
        assert shipped.status == 200, await shipped.text()
        body = await shipped.json()
        assert body["state"] == "shipped"
        assert body["shipping"] == {"carrier": "顺丰速运", "tracking_no": "SF1234567890"}
        assert body["shipped_at"] is not None
        mine = await client.get(f"{MINE}/{order['id']}", headers=shopper.headers)
        assert (await mine.json())["shipping"]["tracking_no"] == "SF1234567890"
        services.clock = FrozenClock(datetime.now(UTC) + timedelta(days=3))
        done = await client.post(f"{ADMIN}/{order['id']}/complete", headers=headers)
        assert (await done.json())["state"] == "completed"
        actions = await AuditEntry.filter(target_type="mall_order").order_by("id")
        assert [(e.action, e.actor) for e in actions] == [
            ("mall_order.ship", "olga"),
            ("mall_order.complete", "olga"),
        ]
        assert actions[0].after is not None
        assert actions[0].after["tracking_no"] == "SF1234567890"

    async def test_invalid_transitions_are_409(
        self, client: TestClient, mall: MallKit, login_as: StaffLogin
    ) -> None:
        headers = await login_as("operator")
        shopper = await mall.shopper(1000)
        order = await physical_order(mall, shopper)
        early = await client.post(f"{ADMIN}/{order['id']}/complete", headers=headers)
        assert early.status == 409
        assert await error_code(early) == "invalid_state"
        ship = {"carrier": "中通快递", "tracking_no": "ZT100200300"}
        await client.post(f"{ADMIN}/{order['id']}/ship", json=ship, headers=headers)
        again = await client.post(f"{ADMIN}/{order['id']}/ship", json=ship, headers=headers)
        assert await error_code(again) == "invalid_state"
        cancel = await client.post(f"{MINE}/{order['id']}/cancel", headers=shopper.headers)
        assert await error_code(cancel) == "invalid_state"
        coupon_order = await mall.redeemed(shopper, (await mall.item(kind=ItemKind.COUPON)).id)
        coupon_ship = await client.post(
            f"{ADMIN}/{coupon_order['id']}/ship", json=ship, headers=headers
        )
        assert await error_code(coupon_ship) == "invalid_state"

    async def test_a_cancel_racing_a_shipment_has_one_winner(
        self, client: TestClient, mall: MallKit, login_as: StaffLogin
    ) -> None:
        headers = await login_as("operator")
        shopper = await mall.shopper(1500)
        orders = [await physical_order(mall, shopper) for _ in range(5)]
        ship = {"carrier": "顺丰", "tracking_no": "SF1234567890"}
        calls = []
        for order in orders:
            calls.append(client.post(f"{ADMIN}/{order['id']}/ship", json=ship, headers=headers))
            calls.append(client.post(f"{MINE}/{order['id']}/cancel", headers=shopper.headers))
        responses = await asyncio.gather(*calls)
        assert sorted(r.status for r in responses) == [200] * 5 + [409] * 5
        cancelled = await MallOrder.filter(member_id=shopper.id, state="cancelled").count()
        refunds = await PointsEntry.filter(member_id=shopper.id, kind=EntryKind.REFUND).count()
        assert refunds == cancelled
        assert await balance(shopper.id) == 1500 - 300 * (5 - cancelled)
        await assert_ledger_consistent(shopper.id)

    @pytest.mark.parametrize(
        ("body", "code"),
        [
            ({"carrier": "", "tracking_no": "SF1234567890"}, "invalid_carrier"),
            ({"carrier": "顺丰", "tracking_no": "12"}, "invalid_tracking_no"),
            ({"carrier": "顺丰", "tracking_no": "SF 123 456"}, "invalid_tracking_no"),
            ({"carrier": "顺丰"}, "invalid_tracking_no"),
        ],
    )
    async def test_bad_shipments_are_400(
        self, client: TestClient, mall: MallKit, login_as: StaffLogin, body: dict, code: str
    ) -> None:
        shopper = await mall.shopper(1000)
        order = await physical_order(mall, shopper)
        response = await client.post(
            f"{ADMIN}/{order['id']}/ship", json=body, headers=await login_as("operator")
        )
        assert response.status == 400
        assert await error_code(response) == code

    async def test_unknown_orders_are_404(self, client: TestClient, login_as: StaffLogin) -> None:
        headers = await login_as("operator")
        ship = {"carrier": "顺丰", "tracking_no": "SF1234567890"}
        for path, body in (("ship", ship), ("complete", None), ("cancel", {"reason": "x"})):
            response = await client.post(f"{ADMIN}/404/{path}", json=body, headers=headers)
            assert response.status == 404
            assert await error_code(response) == "order_not_found"


class TestOperatorCancel:
    async def test_cancels_with_a_reason_audited_and_refunds(
        self, client: TestClient, mall: MallKit, login_as: StaffLogin
    ) -> None:
        headers = await login_as("owner", "oscar")
        shopper = await mall.shopper(1000)
        order = await physical_order(mall, shopper)
        response = await client.post(
            f"{ADMIN}/{order['id']}/cancel", json={"reason": "缺货无法发出"}, headers=headers
        )
        assert response.status == 200
        body = await response.json()
        assert (body["state"], body["cancelled_by"]) == ("cancelled", "oscar")
        assert await balance(shopper.id) == 1000
        entry = await AuditEntry.get(action="mall_order.cancel")
        assert entry.after == {"state": "cancelled", "reason": "缺货无法发出"}
        again = await client.post(
            f"{ADMIN}/{order['id']}/cancel", json={"reason": "再来一次"}, headers=headers
        )
        assert await error_code(again) == "invalid_state"
        await assert_ledger_consistent(shopper.id)

    async def test_reason_is_required(
        self, client: TestClient, mall: MallKit, login_as: StaffLogin
    ) -> None:
        shopper = await mall.shopper(1000)
        order = await physical_order(mall, shopper)
        response = await client.post(
            f"{ADMIN}/{order['id']}/cancel", json={"reason": " "}, headers=await login_as("owner")
        )
        assert response.status == 400
        assert await error_code(response) == "invalid_reason"


class TestForgetMember:
    async def test_account_deletion_wipes_addresses_and_cancels_pending(
        self, client: TestClient, mall: MallKit, login_as: StaffLogin, services: Services
    ) -> None:
        from handlers.mall.orders import forget_member

        shopper = await mall.shopper(1000)
        shipped = await physical_order(mall, shopper)
        await client.post(
            f"{ADMIN}/{shipped['id']}/ship",
            json={"carrier": "顺丰", "tracking_no": "SF1234567890"},
            headers=await login_as("operator"),
        )
        pending = await physical_order(mall, shopper)
        assert await forget_member(services, shopper.id) == 2
        orders = {o.id: o for o in await MallOrder.filter(member_id=shopper.id)}
        assert orders[pending["id"]].state == "cancelled"
        assert orders[shipped["id"]].state == "shipped"
        assert all(o.recipient is o.phone_enc is o.address_detail is None for o in orders.values())
        assert (await MallItem.get(id=pending["item"]["id"])).stock == 5
        await assert_ledger_consistent(shopper.id)
