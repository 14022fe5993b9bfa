"""Cashiers bound to stores: the binding (`/operators/{id}/stores`) and what the till may
record with it (purchases, refunds, coupon write-offs carry their store)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from handlers.coupons.issuing import issue_coupon
from handlers.coupons.templates import create_template
from handlers.operators.accounts import operator_by_username
from tests.factories import create_member
from tests.stores.kit import bind, make_store
from tests.support.http import error_code
from wxmember.core.context import Services
from wxmember.core.models import AuditEntry
from wxmember.core.models.coupons import Coupon, CouponStatus
from wxmember.core.models.pos import Purchase, PurchaseRefund

PURCHASES = "/admin/api/v1/pos/purchases"
REFUNDS = "/admin/api/v1/pos/refunds"
REDEEM = "/admin/api/v1/pos/coupons/redeem"


async def _buy(client: TestClient, headers: dict[str, str], order_no: str, **extra: Any) -> Any:
    member = await create_member()
    body = {"member_id": member.id, "order_no": order_no, "amount_fen": 10_000} | extra
    return await client.post(PURCHASES, json=body, headers=headers)


class TestBindCashier:
    async def test_binds_exactly_the_given_stores_audited(
        self, client: TestClient, login_as: Any
    ) -> None:
        owner = await login_as("owner", "olivia")
        await login_as("cashier", "cathy")
        cathy = await operator_by_username("cathy")
        assert cathy is not None
        a, b, c = await make_store("A"), await make_store("B"), await make_store("C")
        path = f"/admin/api/v1/operators/{cathy.id}/stores"
        await client.put(path, json={"store_ids": [a.id, b.id]}, headers=owner)
        response = await client.put(path, json={"store_ids": [c.id, b.id]}, headers=owner)
        assert response.status == 200
        body = await response.json()
        assert [s["code"] for s in body["stores"]] == ["B", "C"]
        shown = await (await client.get(path, headers=owner)).json()
        assert shown == body
        audits = await AuditEntry.filter(action="operator.stores").order_by("id")
        assert [[s["code"] for s in (e.after or {})["stores"]] for e in audits] == [
            ["A", "B"],
            ["B", "C"],
        ]

    async def test_bindings_sent_at_once_end_as_one_of_them(
        self, client: TestClient, login_as: Any
    ) -> None:
        owner = await login_as("owner")
        await login_as("cashier", "cathy")
        cathy = await operator_by_username("cathy")
        assert cathy is not None
        ids = [(await make_store(code)).id for code in ("A", "B", "C", "D")]
        sets = [[ids[0], ids[1]], [ids[2], ids[3]], [ids[1], ids[2]], [ids[0], ids[3]]]
        path = f"/admin/api/v1/operators/{cathy.id}/stores"
        responses = await asyncio.gather(
            *(client.put(path, json={"store_ids": chosen}, headers=owner) for chosen in sets)
        )
        assert [response.status for response in responses] == [200] * 4
        final = sorted((await (await client.get(path, headers=owner)).json())["stores"], key=str)
        assert sorted(s["id"] for s in final) in [sorted(chosen) for chosen in sets]

    async def test_only_cashiers_are_bound(self, client: TestClient, login_as: Any) -> None:
        owner = await login_as("owner", "olivia")
        olivia = await operator_by_username("olivia")
        assert olivia is not None
        store = await make_store("A")
        response = await client.put(
            f"/admin/api/v1/operators/{olivia.id}/stores",
            json={"store_ids": [store.id]},
            headers=owner,
        )
        assert (response.status, await error_code(response)) == (409, "not_a_cashier")

    async def test_an_unknown_store_binds_nothing(self, client: TestClient, login_as: Any) -> None:
        owner = await login_as("owner")
        await login_as("cashier", "cathy")
        cathy = await operator_by_username("cathy")
        assert cathy is not None
        store = await make_store("A")
        response = await client.put(
            f"/admin/api/v1/operators/{cathy.id}/stores",
            json={"store_ids": [store.id, 999]},
            headers=owner,
        )
        assert (response.status, await error_code(response)) == (404, "store_not_found")
        assert not await AuditEntry.exists(action="operator.stores")

    async def test_a_used_bound_store_is_deactivated_not_deleted(
        self, client: TestClient, login_as: Any
    ) -> None:
        owner = await login_as("owner")
        await login_as("cashier", "cathy")
        store = await make_store("A")
        await bind("cathy", "A")
        response = await client.delete(f"/admin/api/v1/stores/{store.id}", headers=owner)
        assert (response.status, await error_code(response)) == (409, "store_in_use")


class TestPurchaseAtStore:
    async def test_a_cashier_bound_to_store_a_cannot_record_for_store_b(
        self, client: TestClient, login_as: Any
    ) -> None:
        cashier = await login_as("cashier", "cathy")
        await make_store("A")
        await make_store("B")
        await bind("cathy", "A")
        response = await _buy(client, cashier, "O-1", store="B")
        assert (response.status, await error_code(response)) == (403, "store_not_allowed")
        assert await Purchase.all().count() == 0
        unknown = await _buy(client, cashier, "O-2", store="NOWHERE")
        assert (unknown.status, await error_code(unknown)) == (403, "store_not_allowed")

    async def test_purchases_carry_the_right_store(self, client: TestClient, login_as: Any) -> None:
        one = await login_as("cashier", "cathy")
        two = await login_as("cashier", "carl")
        owner = await login_as("owner")
        for code in ("A", "B", "C"):
            await make_store(code)
        await bind("cathy", "A")
        await bind("carl", "B", "C")
        assert (await _buy(client, one, "O-1")).status == 201  # one store: it is that one
        assert (await _buy(client, one, "O-2", store="A")).status == 201
        assert (await _buy(client, two, "O-3", store="C")).status == 201
        assert (await _buy(client, owner, "O-4", store="B")).status == 201
        assert (await _buy(client, owner, "O-5")).status == 201  # staff may leave it out
        recorded = dict(await Purchase.all().values_list("order_no", "store"))
        assert recorded == {"O-1": "A", "O-2": "A", "O-3": "C", "O-4": "B", "O-5": None}

    async def test_a_cashier_of_several_stores_must_name_one(
        self, client: TestClient, login_as: Any
    ) -> None:
        cashier = await login_as("cashier", "carl")
        await make_store("B")
        await make_store("C")
        await bind("carl", "B", "C")
        response = await _buy(client, cashier, "O-1")
        assert (response.status, await error_code(response)) == (400, "store_required")
        assert (await response.json())["error"]["details"] == {"stores": ["B", "C"]}
        assert await Purchase.all().count() == 0

    async def test_unknown_and_deactivated_stores_record_nothing(
        self, client: TestClient, login_as: Any
    ) -> None:
        owner = await login_as("owner")
        await make_store("OLD", active=False)
        unknown = await _buy(client, owner, "O-1", store="NEW")
        closed = await _buy(client, owner, "O-2", store="OLD")
        assert (unknown.status, await error_code(unknown)) == (404, "store_not_found")
        assert (closed.status, await error_code(closed)) == (409, "store_inactive")
        assert await Purchase.all().count() == 0


class TestRefundAtStore:
    async def test_refund_records_the_store_and_respects_the_binding(
        self, client: TestClient, login_as: Any
    ) -> None:
        owner = await login_as("owner")
        cashier = await login_as("cashier", "cathy")
        await make_store("A")
        await make_store("B")
        await bind("cathy", "A")
        assert (await _buy(client, owner, "O-1", store="B")).status == 201
        body = {"order_no": "O-1", "refund_no": "R-1", "amount_fen": 5_000}
        refused = await client.post(REFUNDS, json=body | {"store": "B"}, headers=cashier)
        assert (refused.status, await error_code(refused)) == (403, "store_not_allowed")
        done = await client.post(REFUNDS, json=body, headers=cashier)
        assert done.status == 201
        assert (await done.json())["store"] == "A"
        assert await PurchaseRefund.all().values_list("store", flat=True) == ["A"]


class TestWriteOffAtStore:
    @pytest.mark.parametrize(("sent", "status", "recorded"), [(None, 200, "A"), ("B", 403, None)])
    async def test_write_off_records_the_store_and_respects_the_binding(
        self,
        client: TestClient,
        services: Services,
        login_as: Any,
        sent: str | None,
        status: int,
        recorded: str | None,
    ) -> None:
        cashier = await login_as("cashier", "cathy")
        await make_store("A")
        await make_store("B")
        await bind("cathy", "A")
        template = await create_template(
            services,
            None,
            {"title": "减10", "kind": "cash", "value": 1000, "total_stock": 5, "valid_days": 30},
        )
        member = await create_member()
        coupon = await issue_coupon(
            services, member.id, template.id, reason="test", idempotency_key="k"
        )
        body = {"code": coupon.code, "order_no": "SO-1", "order_amount_fen": 8000}
        response = await client.post(
            REDEEM, json=body | ({"store": sent} if sent else {}), headers=cashier
        )
        assert response.status == status
        fresh = await Coupon.get(id=coupon.id)
        assert fresh.store == recorded
        assert fresh.status == (CouponStatus.USED if recorded else CouponStatus.UNUSED)
        if recorded:
            assert (await response.json())["store"] == recorded
