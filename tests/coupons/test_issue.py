"""Issuing coupons from other flows (`issue_coupon`) and operator grants."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from aiohttp.test_utils import TestClient
from tortoise.transactions import in_transaction

from handlers.coupons.issuing import issue_coupon, soldout_key
from tests.coupons.conftest import NOW, MemberMaker, TemplateMaker
from tests.support.http import error_code
from wxmember.core.clock import FrozenClock
from wxmember.core.context import Services
from wxmember.core.errors import Conflict, NotFound, ValidationFailed
from wxmember.core.models import AuditEntry, Member
from wxmember.core.models.coupons import Coupon, CouponClaimCounter, CouponTemplate


class TestIssueCoupon:
    async def test_ignores_window_claimable_flag_tiers_and_claim_limit(
        self,
        client: TestClient,
        services: Services,
        clock: FrozenClock,
        new_template: TemplateMaker,
        new_member: MemberMaker,
    ) -> None:
        await new_member(level=3)
        template = await new_template(
            obtain="issued",
            eligible_tiers=[3],
            per_member_limit=1,
            claim_starts_at=NOW + timedelta(days=5),
            claim_ends_at=NOW + timedelta(days=6),
        )
        member, _ = await new_member()
        first = await issue_coupon(
            services, member.id, template.id, reason="birthday", idempotency_key="b1"
        )
        second = await issue_coupon(
            services, member.id, template.id, reason="birthday", idempotency_key="b2"
        )
        assert first.id != second.id
        assert first.source == "issue"
        assert first.reason == "birthday"
        assert (await CouponTemplate.get(id=template.id)).remaining == 98
        assert not await CouponClaimCounter.exists(member_id=member.id)

    async def test_same_key_returns_the_first_coupon(
        self,
        client: TestClient,
        services: Services,
        new_template: TemplateMaker,
        new_member: MemberMaker,
    ) -> None:
        template = await new_template()
        member, _ = await new_member()
        first = await issue_coupon(
            services, member.id, template.id, reason="welcome", idempotency_key="w:1"
        )
        again = await issue_coupon(
            services, member.id, template.id, reason="welcome", idempotency_key="w:1"
        )
        assert again.id == first.id
        assert await Coupon.all().count() == 1
        assert (await CouponTemplate.get(id=template.id)).claimed == 1

    @pytest.mark.parametrize("since", ["sold_out", "stopped"])
    async def test_same_key_returns_the_first_coupon_whatever_the_template_is_now(
        self,
        client: TestClient,
        services: Services,
        new_template: TemplateMaker,
        new_member: MemberMaker,
        since: str,
    ) -> None:
        template = await new_template(total_stock=1)
        member, _ = await new_member()
        first = await issue_coupon(
            services, member.id, template.id, reason="x", idempotency_key="k"
        )
        if since == "stopped":
            await CouponTemplate.filter(id=template.id).update(stopped=True)
        again = await issue_coupon(
            services, member.id, template.id, reason="x", idempotency_key="k"
        )
        assert again.id == first.id
        after = await CouponTemplate.get(id=template.id)
        assert (after.remaining, after.claimed) == (0, 1)

    async def test_concurrent_same_key_issues_once(
        self,
        client: TestClient,
        services: Services,
        new_template: TemplateMaker,
        new_member: MemberMaker,
    ) -> None:
        template = await new_template()
        member, _ = await new_member()
        results = await asyncio.gather(
            *(
                issue_coupon(services, member.id, template.id, reason="mall", idempotency_key="m:9")
                for _ in range(10)
            )
        )
        assert {c.id for c in results} == {results[0].id}
        assert (await CouponTemplate.get(id=template.id)).claimed == 1

    async def test_key_reused_for_another_coupon(
        self,
        client: TestClient,
        services: Services,
        new_template: TemplateMaker,
        new_member: MemberMaker,
    ) -> None:
        one, two = await new_template(), await new_template(title="另一张")
        member, _ = await new_member()
        await issue_coupon(services, member.id, one.id, reason="x", idempotency_key="same")
        with pytest.raises(Conflict) as raised:
            await issue_coupon(services, member.id, two.id, reason="x", idempotency_key="same")
        assert raised.value.code == "idempotency_key_reused"

    async def test_takes_stock_and_refuses_when_sold_out(
        self,
        client: TestClient,
        services: Services,
        new_template: TemplateMaker,
        new_member: MemberMaker,
    ) -> None:
        template = await new_template(total_stock=1)
        member, _ = await new_member()
        await issue_coupon(services, member.id, template.id, reason="x", idempotency_key="1")
        with pytest.raises(Conflict) as raised:
            await issue_coupon(services, member.id, template.id, reason="x", idempotency_key="2")
        assert raised.value.code == "sold_out"
        assert await services.redis.exists(soldout_key(template.id))
        assert await Coupon.all().count() == 1

    @pytest.mark.parametrize(
        ("case", "error", "code"),
        [
            ("stopped", Conflict, "template_stopped"),
            ("expired", Conflict, "template_expired"),
            ("no_template", NotFound, "template_not_found"),
            ("no_member", NotFound, "member_not_found"),
            ("deleted_member", NotFound, "member_not_found"),
            ("no_reason", ValidationFailed, "invalid_reason"),
            ("long_key", ValidationFailed, "invalid_idempotency_key"),
        ],
    )
    async def test_refusals(
        self,
        client: TestClient,
        services: Services,
        clock: FrozenClock,
        new_template: TemplateMaker,
        new_member: MemberMaker,
        case: str,
        error: type[Exception],
        code: str,
    ) -> None:
        template = await new_template(
            valid_days=None, valid_from=NOW - timedelta(days=9), valid_until=NOW + timedelta(days=1)
        )
        member, _ = await new_member()
        member_id, template_id, reason, key = member.id, template.id, "gift", "k"
        if case == "stopped":
            await CouponTemplate.filter(id=template_id).update(stopped=True)
        elif case == "expired":
            clock.advance(days=1)
        elif case == "no_template":
            template_id = 999
        elif case == "no_member":
            member_id = 999
        elif case == "deleted_member":
            await Member.filter(id=member_id).update(deleted_at=NOW)
        elif case == "no_reason":
            reason = ""
        elif case == "long_key":
            key = "k" * 161
        with pytest.raises(error) as raised:
            await issue_coupon(services, member_id, template_id, reason=reason, idempotency_key=key)
        assert raised.value.code == code  # type: ignore[attr-defined]
        assert await Coupon.all().count() == 0

    async def test_joins_the_callers_transaction(
        self,
        client: TestClient,
        services: Services,
        new_template: TemplateMaker,
        new_member: MemberMaker,
    ) -> None:
        template = await new_template()
        member, _ = await new_member()
        with pytest.raises(RuntimeError):
            async with in_transaction() as conn:
                await issue_coupon(
                    services,
                    member.id,
                    template.id,
                    reason="mall",
                    idempotency_key="t1",
                    using_db=conn,
                )
                raise RuntimeError("the rest of the flow failed")
        assert await Coupon.all().count() == 0
        assert (await CouponTemplate.get(id=template.id)).remaining == 100

    async def test_a_refusal_leaves_the_callers_transaction_usable(
        self,
        client: TestClient,
        services: Services,
        new_template: TemplateMaker,
        new_member: MemberMaker,
    ) -> None:
        template = await new_template(total_stock=1)
        member, _ = await new_member()
        async with in_transaction() as conn:
            await issue_coupon(
                services, member.id, template.id, reason="a", idempotency_key="a", using_db=conn
            )
            with pytest.raises(Conflict):
                await issue_coupon(
                    services, member.id, template.id, reason="b", idempotency_key="b", using_db=conn
                )
            await Member.filter(id=member.id).using_db(conn).update(name="李四")
        assert await Coupon.all().count() == 1
        assert (await Member.get(id=member.id)).name == "李四"


class TestOperatorGrant:
    async def test_grant_is_audited_and_idempotent_with_a_key(
        self,
        client: TestClient,
        staff: dict[str, str],
        new_template: TemplateMaker,
        new_member: MemberMaker,
    ) -> None:
        template = await new_template(obtain="issued")
        member, headers = await new_member()
        url = f"/admin/api/v1/members/{member.id}/coupons"
        body = {"template_id": template.id, "reason": "客诉补偿"}
        keyed = staff | {"Idempotency-Key": "ticket-4711"}
        first = await client.post(url, json=body, headers=keyed)
        assert first.status == 201, await first.text()
        again = await client.post(url, json=body, headers=keyed)
        assert again.status == 200
        assert (await again.json())["id"] == (await first.json())["id"]
        entry = await AuditEntry.get(action="coupon.grant")
        assert entry.after is not None
        assert entry.after["reason"] == "客诉补偿"
        assert entry.after["member_id"] == member.id
        assert await AuditEntry.filter(action="coupon.grant").count() == 1
        without_key = await client.post(url, json=body, headers=staff)
        assert without_key.status == 201
        listed = await (await client.get(url, headers=staff)).json()
        assert len(listed["items"]) == 2
        mine = await (await client.get("/api/v1/coupons", headers=headers)).json()
        assert len(mine["items"]) == 2

    @pytest.mark.parametrize(
        ("body", "headers", "status", "code"),
        [
            ({"template_id": 999, "reason": "x"}, {}, 404, "template_not_found"),
            ({"template_id": "1", "reason": "x"}, {}, 400, "invalid_template_id"),
            ({"template_id": 1, "reason": ""}, {}, 400, "invalid_reason"),
            ({"template_id": 1, "reason": "x" * 65}, {}, 400, "invalid_reason"),
            ({"template_id": 1}, {}, 400, "invalid_reason"),
            (
                {"template_id": 1, "reason": "x"},
                {"Idempotency-Key": "has space"},
                400,
                "invalid_idempotency_key",
            ),
        ],
    )
    async def test_bad_grants(
        self,
        client: TestClient,
        staff: dict[str, str],
        new_template: TemplateMaker,
        new_member: MemberMaker,
        body: dict,
        headers: dict[str, str],
        status: int,
        code: str,
    ) -> None:
        await new_template()
        member, _ = await new_member()
        response = await client.post(
            f"/admin/api/v1/members/{member.id}/coupons", json=body, headers=staff | headers
        )
        assert response.status == status
        assert await error_code(response) == code

    async def test_unknown_member(
        self, client: TestClient, staff: dict[str, str], new_template: TemplateMaker
    ) -> None:
        template = await new_template()
        grant = await client.post(
            "/admin/api/v1/members/999/coupons",
            json={"template_id": template.id, "reason": "x"},
            headers=staff,
        )
        assert await error_code(grant) == "member_not_found"
        listing = await client.get("/admin/api/v1/members/999/coupons", headers=staff)
        assert await error_code(listing) == "member_not_found"

    async def test_cashier_may_not_grant(
        self,
        client: TestClient,
        cashier: dict[str, str],
        new_template: TemplateMaker,
        new_member: MemberMaker,
    ) -> None:
        template = await new_template()
        member, _ = await new_member()
        response = await client.post(
            f"/admin/api/v1/members/{member.id}/coupons",
            json={"template_id": template.id, "reason": "x"},
            headers=cashier,
        )
        assert response.status == 403
