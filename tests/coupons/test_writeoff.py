"""Write-off at the till: discounts, refusals, once only under concurrency, void."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from handlers.coupons.issuing import issue_coupon
from tests.conftest import StaffLogin
from tests.coupons.conftest import NOW, MemberMaker, TemplateMaker
from tests.support.http import error_code
from wxmember.core.clock import FrozenClock
from wxmember.core.context import Services
from wxmember.core.models import AuditEntry
from wxmember.core.models.coupons import Coupon, CouponStatus

REDEEM = "/admin/api/v1/pos/coupons/redeem"
VOID = "/admin/api/v1/pos/coupons/void"


async def issued(services: Services, template_id: int, member_id: int, key: str = "k") -> Coupon:
    return await issue_coupon(services, member_id, template_id, reason="test", idempotency_key=key)


def redeem_body(coupon: Coupon, amount: int = 8000, order_no: str = "SO-1", **extra: Any) -> dict:
    return {"code": coupon.code, "order_no": order_no, "order_amount_fen": amount} | extra


class TestRedeem:
    @pytest.mark.parametrize(
        ("fields", "amount", "discount", "gift"),
        [
            ({}, 8000, 1000, None),
            ({"threshold_fen": 0, "value": 5000}, 3000, 3000, None),
            ({"kind": "discount", "value": 10}, 9999, 999, None),
            ({"kind": "discount", "value": 20, "max_discount_fen": 1500}, 10000, 1500, None),
            ({"kind": "gift", "value": 0, "title": "赠饮一杯"}, 6000, 0, "赠饮一杯"),
        ],
    )
    async def test_discount_by_kind(
        self,
        client: TestClient,
        services: Services,
        clock: FrozenClock,
        cashier: dict[str, str],
        new_template: TemplateMaker,
        new_member: MemberMaker,
        fields: dict,
        amount: int,
        discount: int,
        gift: str | None,
    ) -> None:
        template = await new_template(**fields)
        member, _ = await new_member()
        coupon = await issued(services, template.id, member.id)
        response = await client.post(
            REDEEM, json=redeem_body(coupon, amount, member_id=member.id), headers=cashier
        )
        assert response.status == 200, await response.text()
        body = await response.json()
        assert (body["discount_fen"], body["payable_fen"], body["gift"]) == (
            discount,
            amount - discount,
            gift,
        )
        assert body["coupon"]["status"] == "used"
        stored = await Coupon.get(id=coupon.id)
        assert (stored.status, stored.order_no, stored.discount_fen) == ("used", "SO-1", discount)
        entry = await AuditEntry.get(action="coupon.redeem")
        assert entry.actor == "till-1"
        assert entry.after is not None
        assert entry.after["discount_fen"] == discount

    async def test_code_is_forgiving_when_typed(
        self,
        client: TestClient,
        services: Services,
        cashier: dict[str, str],
        new_template: TemplateMaker,
        new_member: MemberMaker,
    ) -> None:
        template = await new_template()
        member, _ = await new_member()
        coupon = await issued(services, template.id, member.id)
        typed = " ".join(coupon.code[i : i + 4] for i in (0, 4, 8)).lower()
        response = await client.post(
            REDEEM, json=redeem_body(coupon) | {"code": typed}, headers=cashier
        )
        assert response.status == 200

    @pytest.mark.parametrize(
        ("case", "code"),
        [
            ("wrong_member", "member_mismatch"),
            ("below_threshold", "below_threshold"),
            ("expired", "expired"),
            ("marked_expired", "expired"),
            ("not_started", "not_started"),
            ("unknown", "coupon_not_found"),
        ],
    )
    async def test_refusals(
        self,
        client: TestClient,
        services: Services,
        clock: FrozenClock,
        cashier: dict[str, str],
        new_template: TemplateMaker,
        new_member: MemberMaker,
        case: str,
        code: str,
    ) -> None:
        template = await new_template(
            valid_days=None, valid_from=NOW + timedelta(days=1), valid_until=NOW + timedelta(days=3)
        )
        member, _ = await new_member()
        other, _ = await new_member()
        coupon = await issued(services, template.id, member.id)
        body = redeem_body(coupon)
        clock.advance(days=2)
        if case == "wrong_member":
            body["member_id"] = other.id
        elif case == "below_threshold":
            body["order_amount_fen"] = 4999
        elif case == "expired":
            clock.advance(days=1)
        elif case == "marked_expired":
            await Coupon.filter(id=coupon.id).update(status=CouponStatus.EXPIRED)
        elif case == "not_started":
            clock.advance(days=-2)
        elif case == "unknown":
            body["code"] = "0000-0000-0000"
        response = await client.post(REDEEM, json=body, headers=cashier)
        assert response.status == (404 if case == "unknown" else 409)
        assert await error_code(response) == code
        assert (await Coupon.get(id=coupon.id)).order_no is None

    @pytest.mark.parametrize(
        ("field", "value", "code"),
        [
            ("code", "TOO-SHORT", "invalid_code"),
            ("code", "UUUU-UUUU-UUUU", "invalid_code"),
            ("code", "", "invalid_code"),
            ("order_no", "", "invalid_order_no"),
            ("order_no", "含空格 的单号", "invalid_order_no"),
            ("order_amount_fen", 0, "invalid_order_amount_fen"),
            ("order_amount_fen", "100", "invalid_order_amount_fen"),
            ("member_id", "abc", "invalid_member_id"),
            ("extra", 1, "invalid_extra"),
        ],
    )
    async def test_bad_body(
        self, client: TestClient, cashier: dict[str, str], field: str, value: Any, code: str
    ) -> None:
        body = {"code": "ABCD-EFGH-JKMN", "order_no": "SO-1", "order_amount_fen": 100}
        response = await client.post(REDEEM, json=body | {field: value}, headers=cashier)
        assert response.status == 400
        assert await error_code(response) == code

    async def test_two_cashiers_at_once_one_wins(
        self,
        client: TestClient,
        services: Services,
        login_as: StaffLogin,
        new_template: TemplateMaker,
        new_member: MemberMaker,
    ) -> None:
        template = await new_template()
        member, _ = await new_member()
        coupon = await issued(services, template.id, member.id)
        tills = [await login_as("cashier", f"till-{n}") for n in range(2)]
        for _ in range(5):
            responses = await asyncio.gather(
                *(
                    client.post(REDEEM, json=redeem_body(coupon, order_no=f"SO-{n}"), headers=h)
                    for n, h in enumerate(tills)
                )
            )
            statuses = sorted(r.status for r in responses)
            assert statuses == [200, 409]
            loser = next(r for r in responses if r.status == 409)
            assert await error_code(loser) == "already_used"
            assert await AuditEntry.filter(action="coupon.redeem").count() == 1
            winner = next(r for r in responses if r.status == 200)
            order_no = (await winner.json())["order_no"]
            voided = await client.post(
                VOID, json={"code": coupon.code, "order_no": order_no}, headers=tills[0]
            )
            assert voided.status == 200
            await AuditEntry.filter(action__in=["coupon.redeem", "coupon.void"]).delete()

    async def test_same_order_retried_answers_the_first_result(
        self,
        client: TestClient,
        services: Services,
        cashier: dict[str, str],
        new_template: TemplateMaker,
        new_member: MemberMaker,
    ) -> None:
        template = await new_template()
        member, _ = await new_member()
        coupon = await issued(services, template.id, member.id)
        first = await client.post(REDEEM, json=redeem_body(coupon), headers=cashier)
        again = await client.post(REDEEM, json=redeem_body(coupon), headers=cashier)
        assert (first.status, again.status) == (200, 200)
        assert (await again.json())["replayed"] is True
        assert (await again.json())["discount_fen"] == 1000
        other_order = await client.post(
            REDEEM, json=redeem_body(coupon, order_no="SO-2"), headers=cashier
        )
        assert await error_code(other_order) == "already_used"
        assert await AuditEntry.filter(action="coupon.redeem").count() == 1

    async def test_look_up_before_redeeming(
        self,
        client: TestClient,
        services: Services,
        cashier: dict[str, str],
        new_template: TemplateMaker,
        new_member: MemberMaker,
    ) -> None:
        template = await new_template()
        member, _ = await new_member()
        coupon = await issued(services, template.id, member.id)
        url = f"/admin/api/v1/pos/coupons/{coupon.code}"
        ok = await (await client.get(url + "?order_amount_fen=6000", headers=cashier)).json()
        assert (ok["usable"], ok["discount_fen"], ok["payable_fen"]) == (True, 1000, 5000)
        assert ok["member_id"] == member.id
        low = await (await client.get(url + "?order_amount_fen=100", headers=cashier)).json()
        assert (low["usable"], low["reason"]) == (False, "below_threshold")
        missing = await client.get("/admin/api/v1/pos/coupons/0000-0000-0000", headers=cashier)
        assert await error_code(missing) == "coupon_not_found"

    async def test_needs_staff(
        self, client: TestClient, services: Services, new_member: MemberMaker
    ) -> None:
        _, member_headers = await new_member()
        response = await client.post(
            REDEEM,
            json={"code": "ABCD-EFGH-JKMN", "order_no": "1", "order_amount_fen": 1},
            headers=member_headers,
        )
        assert response.status == 401


class TestVoid:
    async def test_void_then_redeem_again(
        self,
        client: TestClient,
        services: Services,
        clock: FrozenClock,
        cashier: dict[str, str],
        new_template: TemplateMaker,
        new_member: MemberMaker,
    ) -> None:
        template = await new_template()
        member, headers = await new_member()
        coupon = await issued(services, template.id, member.id)
        assert (await client.post(REDEEM, json=redeem_body(coupon), headers=cashier)).status == 200
        voided = await client.post(
            VOID, json={"code": coupon.code, "order_no": "SO-1"}, headers=cashier
        )
        assert voided.status == 200
        assert (await voided.json())["coupon"]["status"] == "unused"
        twice = await client.post(
            VOID, json={"code": coupon.code, "order_no": "SO-1"}, headers=cashier
        )
        assert await error_code(twice) == "not_used"
        again = await client.post(
            REDEEM, json=redeem_body(coupon, order_no="SO-2"), headers=cashier
        )
        assert again.status == 200
        entry = await AuditEntry.get(action="coupon.void")
        assert entry.before is not None
        assert entry.before["order_no"] == "SO-1"
        mine = await (await client.get("/api/v1/coupons?status=used", headers=headers)).json()
        assert mine["items"][0]["order_no"] == "SO-2"

    async def test_wrong_order_and_unused(
        self,
        client: TestClient,
        services: Services,
        cashier: dict[str, str],
        new_template: TemplateMaker,
        new_member: MemberMaker,
    ) -> None:
        template = await new_template()
        member, _ = await new_member()
        coupon = await issued(services, template.id, member.id)
        unused = await client.post(
            VOID, json={"code": coupon.code, "order_no": "SO-1"}, headers=cashier
        )
        assert await error_code(unused) == "not_used"
        await client.post(REDEEM, json=redeem_body(coupon), headers=cashier)
        wrong = await client.post(
            VOID, json={"code": coupon.code, "order_no": "SO-9"}, headers=cashier
        )
        assert wrong.status == 409
        assert await error_code(wrong) == "order_mismatch"
        missing = await client.post(
            VOID, json={"code": "0000-0000-0000", "order_no": "SO-1"}, headers=cashier
        )
        assert await error_code(missing) == "coupon_not_found"

    async def test_void_after_validity_goes_to_expired(
        self,
        client: TestClient,
        services: Services,
        clock: FrozenClock,
        cashier: dict[str, str],
        new_template: TemplateMaker,
        new_member: MemberMaker,
    ) -> None:
        template = await new_template(valid_days=1)
        member, _ = await new_member()
        coupon = await issued(services, template.id, member.id)
        await client.post(REDEEM, json=redeem_body(coupon), headers=cashier)
        clock.advance(days=1)
        voided = await client.post(
            VOID, json={"code": coupon.code, "order_no": "SO-1"}, headers=cashier
        )
        assert (await voided.json())["coupon"]["status"] == "expired"
        assert (await Coupon.get(id=coupon.id)).status == CouponStatus.EXPIRED
        again = await client.post(
            REDEEM, json=redeem_body(coupon, order_no="SO-2"), headers=cashier
        )
        assert await error_code(again) == "expired"
