"""A store's page: its figures by local day equal a direct count of its records, and the
members who opened their cards there."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from aiohttp.test_utils import TestClient

from handlers.coupons.issuing import issue_coupon
from handlers.coupons.templates import create_template
from tests.factories import create_member
from tests.stores.kit import make_store
from tests.support.localtime import SHANGHAI, freeze, local
from wxmember.core.context import Services
from wxmember.core.localtime import local_midnight
from wxmember.core.models import Member
from wxmember.core.models.coupons import Coupon, CouponStatus
from wxmember.core.models.pos import Purchase, PurchaseRefund
from wxmember.core.models.stores import OpeningSource, Store, StoreCardOpening

NOW = local(2025, 6, 10, 15, 0)
TODAY = date(2025, 6, 10)

# (store, local moment, amount): purchases, refunds and write-offs spread over days, stores
# and both sides of local midnight (23:59 and 00:01 are different days, not different UTC days).
SALES = [
    ("A", local(2025, 6, 10, 9, 0), 10_000),
    ("A", local(2025, 6, 10, 0, 1), 2_500),
    ("A", local(2025, 6, 9, 23, 59), 4_000),
    ("A", local(2025, 6, 4, 12, 0), 7_000),
    ("A", local(2025, 6, 3, 12, 0), 9_900),  # before the 7 days
    ("B", local(2025, 6, 10, 10, 0), 50_000),
    (None, local(2025, 6, 10, 10, 0), 1_000),
]


async def _records(services: Services) -> None:
    a, b = await make_store("A"), await make_store("B")
    member = await create_member()
    for n, (store, at, amount) in enumerate(SALES):
        purchase = await Purchase.create(
            order_no=f"O-{n}", member_id=member.id, amount_fen=amount, store=store, created_at=at
        )
        if n % 2 == 0:
            await PurchaseRefund.create(
                purchase_id=purchase.id,
                refund_no="R-1",
                amount_fen=amount // 2,
                store=store,
                created_at=at + timedelta(minutes=30),
            )
    template = await create_template(
        services,
        None,
        {"title": "减10", "kind": "cash", "value": 1000, "total_stock": 9, "valid_days": 30},
    )
    for n, (store, at) in enumerate(
        [("A", local(2025, 6, 10, 8)), ("A", local(2025, 6, 8, 8)), ("B", local(2025, 6, 8, 8))]
    ):
        coupon = await issue_coupon(
            services, member.id, template.id, reason="test", idempotency_key=f"k{n}"
        )
        await Coupon.filter(id=coupon.id).update(
            status=CouponStatus.USED, used_at=at, store=store, discount_fen=1000, order_no=f"C{n}"
        )
    for n, (opened_in, at) in enumerate(
        [(a, local(2025, 6, 10, 11)), (a, local(2025, 6, 7, 11)), (b, local(2025, 6, 10, 11))]
    ):
        opened = await create_member(name=f"会员{n}")
        await StoreCardOpening.create(
            member_id=opened.id,
            store_id=opened_in.id,
            source=OpeningSource.MINIAPP_SCENE,
            opened_at=at,
        )


def _bounds(day: date) -> tuple[datetime, datetime]:
    return local_midnight(day, SHANGHAI), local_midnight(day + timedelta(days=1), SHANGHAI)


async def _direct(code: str, day: date) -> dict[str, Any]:
    """The day's figures at a store, counted straight from its rows."""
    start, end = _bounds(day)
    store = await Store.get(code=code)
    purchases = await Purchase.filter(store=code, created_at__gte=start, created_at__lt=end)
    refunds = await PurchaseRefund.filter(store=code, created_at__gte=start, created_at__lt=end)
    used = await Coupon.filter(
        store=code, status=CouponStatus.USED, used_at__gte=start, used_at__lt=end
    )
    opened = await StoreCardOpening.filter(
        store_id=store.id, opened_at__gte=start, opened_at__lt=end
    ).count()
    return {
        "day": day.isoformat(),
        "cards_opened": opened,
        "purchases": len(purchases),
        "purchase_fen": sum(p.amount_fen for p in purchases),
        "refunds": len(refunds),
        "refund_fen": sum(r.amount_fen for r in refunds),
        "redemptions": len(used),
        "discount_fen": sum(c.discount_fen or 0 for c in used),
    }


class TestStoreFigures:
    async def test_each_day_equals_a_direct_count(
        self, client: TestClient, services: Services, login_as: Any
    ) -> None:
        freeze(services, NOW.astimezone(UTC))
        headers = await login_as("operator")
        await _records(services)
        for code in ("A", "B"):
            store = await Store.get(code=code)
            response = await client.get(
                f"/admin/api/v1/stores/{store.id}/figures?days=7", headers=headers
            )
            assert response.status == 200
            body = await response.json()
            days = [TODAY - timedelta(days=n) for n in range(6, -1, -1)]
            assert body["days"] == [await _direct(code, day) for day in days]
            for name, total in body["totals"].items():
                assert total == sum(day[name] for day in body["days"])

    async def test_known_figures_of_store_a(
        self, client: TestClient, services: Services, login_as: Any
    ) -> None:
        freeze(services, NOW.astimezone(UTC))
        headers = await login_as("operator")
        await _records(services)
        store = await Store.get(code="A")
        body = await (
            await client.get(f"/admin/api/v1/stores/{store.id}/figures?days=7", headers=headers)
        ).json()
        today, yesterday = body["days"][-1], body["days"][-2]
        assert (today["purchases"], today["purchase_fen"]) == (2, 12_500)
        # yesterday 23:59's purchase was refunded at 00:29 today: a refund of today
        assert (today["refunds"], today["refund_fen"]) == (2, 5_000 + 2_000)
        assert (today["redemptions"], today["cards_opened"]) == (1, 1)
        assert (yesterday["purchases"], yesterday["purchase_fen"]) == (1, 4_000)
        assert yesterday["refunds"] == 0
        totals = body["totals"]
        assert (totals["purchases"], totals["redemptions"], totals["cards_opened"]) == (4, 2, 2)


class TestStoreMembers:
    async def test_lists_the_live_members_who_opened_there(
        self, client: TestClient, services: Services, login_as: Any
    ) -> None:
        freeze(services, NOW.astimezone(UTC))
        headers = await login_as("operator")
        await _records(services)
        store = await Store.get(code="A")
        gone = await StoreCardOpening.filter(store_id=store.id).order_by("id").first()
        assert gone is not None
        await Member.filter(id=gone.member_id).update(deleted_at=NOW)
        body = await (
            await client.get(f"/admin/api/v1/stores/{store.id}/members", headers=headers)
        ).json()
        assert [item["name"] for item in body["items"]] == ["会员1"]
        assert body["items"][0]["source"] == "miniapp_scene"
