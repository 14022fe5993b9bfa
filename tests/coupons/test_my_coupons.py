"""The member's own coupons: statuses, paging, validity in local days, and expiry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiohttp.test_utils import TestClient

from handlers.coupons.issuing import issue_coupon, mark_expired_coupons
from tests.coupons.conftest import NOW, MemberMaker, TemplateMaker
from tests.support.http import error_code
from wxmember.core.clock import FrozenClock
from wxmember.core.context import Services
from wxmember.core.models.coupons import Coupon, CouponStatus

MINE = "/api/v1/coupons"


async def statuses(client: TestClient, headers: dict[str, str], status: str = "") -> list[str]:
    query = f"?status={status}" if status else ""
    response = await client.get(MINE + query, headers=headers)
    assert response.status == 200, await response.text()
    return [item["title"] for item in (await response.json())["items"]]


class TestValidityDays:
    async def test_n_days_after_claim_end_at_local_midnight(
        self,
        client: TestClient,
        clock: FrozenClock,
        new_template: TemplateMaker,
        new_member: MemberMaker,
    ) -> None:
        template = await new_template(valid_days=3, per_member_limit=5)
        _, headers = await new_member()
        # 23:59:59 on 10 March in Shanghai: the claim day still counts as day 1.
        clock.set(datetime(2025, 3, 10, 15, 59, 59, tzinfo=UTC))
        late = await (
            await client.post(f"/api/v1/coupons/center/{template.id}/claim", headers=headers)
        ).json()
        # One second later it is 11 March locally, a day later in validity.
        clock.advance(seconds=1)
        early = await (
            await client.post(f"/api/v1/coupons/center/{template.id}/claim", headers=headers)
        ).json()
        assert late["valid_until"] == "2025-03-13T00:00:00+08:00"
        assert early["valid_until"] == "2025-03-14T00:00:00+08:00"

        clock.set(datetime(2025, 3, 12, 15, 59, 59, tzinfo=UTC))
        assert await statuses(client, headers, "unused") == ["满50减10", "满50减10"]
        clock.advance(seconds=1)
        assert await statuses(client, headers, "unused") == ["满50减10"]
        assert await statuses(client, headers, "expired") == ["满50减10"]


class TestMyCoupons:
    async def test_status_filters_and_computed_expiry(
        self,
        client: TestClient,
        services: Services,
        clock: FrozenClock,
        cashier: dict[str, str],
        new_template: TemplateMaker,
        new_member: MemberMaker,
    ) -> None:
        short = await new_template(title="一天券", valid_days=1, threshold_fen=0)
        long = await new_template(title="长期券", valid_days=30, threshold_fen=0)
        used = await new_template(title="已用券", valid_days=30, threshold_fen=0)
        member, headers = await new_member()
        for template in (short, long, used):
            await issue_coupon(
                services, member.id, template.id, reason="t", idempotency_key=f"k{template.id}"
            )
        code = (await Coupon.get(template_id=used.id)).code
        redeemed = await client.post(
            "/admin/api/v1/pos/coupons/redeem",
            json={"code": code, "order_no": "A1", "order_amount_fen": 3000},
            headers=cashier,
        )
        assert redeemed.status == 200
        clock.advance(days=1)
        assert await statuses(client, headers, "unused") == ["长期券"]
        assert await statuses(client, headers, "used") == ["已用券"]
        assert await statuses(client, headers, "expired") == ["一天券"]
        everything = await (await client.get(MINE, headers=headers)).json()
        assert [i["status"] for i in everything["items"]] == ["used", "unused", "expired"]
        # Not marked yet, still shown as expired: the view computes it.
        assert (await Coupon.get(template_id=short.id)).status == CouponStatus.UNUSED

    async def test_paging(
        self,
        client: TestClient,
        services: Services,
        new_template: TemplateMaker,
        new_member: MemberMaker,
    ) -> None:
        template = await new_template(per_member_limit=10)
        member, headers = await new_member()
        for i in range(5):
            await issue_coupon(
                services, member.id, template.id, reason="t", idempotency_key=f"p{i}"
            )
        first = await (await client.get(MINE + "?limit=3", headers=headers)).json()
        assert len(first["items"]) == 3
        rest = await (
            await client.get(f"{MINE}?limit=3&cursor={first['next_cursor']}", headers=headers)
        ).json()
        assert len(rest["items"]) == 2
        assert rest["next_cursor"] is None
        ids = [i["id"] for i in first["items"] + rest["items"]]
        assert ids == sorted(ids, reverse=True)

    async def test_only_my_coupons(
        self,
        client: TestClient,
        services: Services,
        new_template: TemplateMaker,
        new_member: MemberMaker,
    ) -> None:
        template = await new_template()
        other, _ = await new_member()
        _, headers = await new_member()
        await issue_coupon(services, other.id, template.id, reason="t", idempotency_key="o")
        assert await statuses(client, headers) == []

    async def test_bad_status_and_cursor(self, client: TestClient, new_member: MemberMaker) -> None:
        _, headers = await new_member()
        bad = await client.get(MINE + "?status=lost", headers=headers)
        assert await error_code(bad) == "invalid_status"
        cursor = await client.get(MINE + "?cursor=zz", headers=headers)
        assert await error_code(cursor) == "invalid_cursor"


class TestMarkExpired:
    async def test_marks_only_unused_past_validity_in_batches(
        self,
        client: TestClient,
        services: Services,
        clock: FrozenClock,
        new_template: TemplateMaker,
        new_member: MemberMaker,
    ) -> None:
        short = await new_template(valid_days=1, per_member_limit=10)
        long = await new_template(valid_days=10)
        member, _ = await new_member()
        for i in range(5):
            await issue_coupon(services, member.id, short.id, reason="t", idempotency_key=f"s{i}")
        await issue_coupon(services, member.id, long.id, reason="t", idempotency_key="l")
        shorts = await Coupon.filter(template_id=short.id).order_by("id")
        assert len(shorts) == 5
        await Coupon.filter(id=shorts[0].id).update(status=CouponStatus.USED)

        assert await mark_expired_coupons(services) == 0
        later = NOW + timedelta(days=2)
        assert await mark_expired_coupons(services, now=later, batch_size=2) == 4
        assert await mark_expired_coupons(services, now=later) == 0
        counts = {s: await Coupon.filter(status=s).count() for s in CouponStatus}
        assert counts == {CouponStatus.EXPIRED: 4, CouponStatus.USED: 1, CouponStatus.UNUSED: 1}
