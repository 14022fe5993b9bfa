"""Members browse the mall: items on sale, stock state, eligibility and their own allowance."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp.test_utils import TestClient

from tests.mall.kit import ADDRESS, MallKit, Shopper
from tests.support.http import error_code
from wxmember.core.clock import FrozenClock
from wxmember.core.context import Services
from wxmember.core.models.mall import ItemKind, LimitPeriod

ITEMS = "/api/v1/mall/items"
NOW = datetime(2025, 3, 10, 4, 0, tzinfo=UTC)


@pytest.fixture
def clock(services: Services) -> FrozenClock:
    services.clock = FrozenClock(NOW)
    return services.clock


async def listed(client: TestClient, headers: dict[str, str], query: str = "") -> list[dict]:
    response = await client.get(f"{ITEMS}{query}", headers=headers)
    assert response.status == 200, await response.text()
    return (await response.json())["items"]


class TestBrowse:
    async def test_only_items_on_sale_in_display_order(
        self, client: TestClient, mall: MallKit, clock: FrozenClock
    ) -> None:
        shopper = await mall.shopper()
        late = await mall.item(title="后", display_order=5)
        early = await mall.item(title="先", display_order=1)
        window = await mall.item(
            title="限时",
            display_order=3,
            sale_starts_at=NOW - timedelta(days=1),
            sale_ends_at=NOW + timedelta(days=1),
        )
        await mall.item(title="下架", active=False)
        await mall.item(title="未开始", sale_starts_at=NOW + timedelta(seconds=1))
        await mall.item(title="已结束", sale_ends_at=NOW)
        items = await listed(client, shopper.headers)
        assert [item["id"] for item in items] == [early.id, window.id, late.id]

    async def test_stock_shows_as_a_state(self, client: TestClient, mall: MallKit) -> None:
        shopper = await mall.shopper()
        for order, stock in enumerate((11, 10, 1, 0)):
            await mall.item(stock=stock, display_order=order)
        items = await listed(client, shopper.headers)
        assert [item["stock_state"] for item in items] == ["in_stock", "low", "low", "sold_out"]
        assert all("stock" not in item for item in items)

    async def test_eligibility_by_tier(self, client: TestClient, mall: MallKit) -> None:
        silver = await mall.shopper(level=1)
        entry = await mall.shopper()
        item = await mall.item(tier_levels=[1, 2])
        assert (await listed(client, silver.headers))[0]["eligible"] is True
        shown = (await listed(client, entry.headers))[0]
        assert (shown["id"], shown["eligible"]) == (item.id, False)

    async def test_remaining_allowance_lifetime_and_month(
        self, client: TestClient, mall: MallKit, clock: FrozenClock
    ) -> None:
        shopper = await mall.shopper(1000)
        lifetime = await mall.item(limit_count=3, display_order=1)
        monthly = await mall.item(limit_period=LimitPeriod.MONTH, limit_count=2, display_order=2)
        free = await mall.item(display_order=3)
        await mall.redeemed(shopper, lifetime.id, quantity=2, address=ADDRESS)
        await mall.redeemed(shopper, monthly.id, address=ADDRESS)
        items = await listed(client, shopper.headers)
        assert [(item["id"], item["remaining"]) for item in items] == [
            (lifetime.id, 1),
            (monthly.id, 1),
            (free.id, None),
        ]
        assert items[1]["limit"] == {"period": "month", "count": 2}
        assert items[2]["limit"] is None
        clock.advance(days=30)
        items = await listed(client, shopper.headers)
        assert [item["remaining"] for item in items] == [1, 2, None]

    async def test_filters_kind_and_affordable(self, client: TestClient, mall: MallKit) -> None:
        shopper = await mall.shopper(500)
        cheap = await mall.item(points_price=500, display_order=1)
        await mall.item(points_price=501, display_order=2)
        coupon = await mall.item(kind=ItemKind.COUPON, points_price=100, display_order=3)
        affordable = await listed(client, shopper.headers, "?affordable=1")
        assert [item["id"] for item in affordable] == [cheap.id, coupon.id]
        assert all(item["affordable"] for item in affordable)
        coupons = await listed(client, shopper.headers, "?kind=coupon")
        assert [item["id"] for item in coupons] == [coupon.id]
        everything = await listed(client, shopper.headers, "?affordable=0")
        assert [item["affordable"] for item in everything] == [True, False, True]

    async def test_pages_follow_display_order(self, client: TestClient, mall: MallKit) -> None:
        shopper = await mall.shopper()
        expected = []
        for display_order in (2, 1, 2, 1, 3):
            expected.append((display_order, (await mall.item(display_order=display_order)).id))
        seen: list[int] = []
        cursor = ""
        for _ in range(3):
            response = await client.get(
                f"{ITEMS}?limit=2{'&cursor=' + cursor if cursor else ''}", headers=shopper.headers
            )
            page = await response.json()
            seen += [item["id"] for item in page["items"]]
            cursor = page["next_cursor"]
        assert cursor is None
        assert seen == [item_id for _, item_id in sorted(expected)]

    @pytest.mark.parametrize(
        ("query", "code"),
        [
            ("?kind=food", "invalid_kind"),
            ("?affordable=yes", "invalid_affordable"),
            ("?cursor=zz", "invalid_cursor"),
            ("?cursor=ff", "invalid_cursor"),
            ("?limit=101", "invalid_limit"),
        ],
    )
    async def test_bad_queries_are_400(
        self, client: TestClient, mall: MallKit, query: str, code: str
    ) -> None:
        shopper = await mall.shopper()
        response = await client.get(f"{ITEMS}{query}", headers=shopper.headers)
        assert response.status == 400
        assert await error_code(response) == code

    async def test_needs_a_session(self, client: TestClient) -> None:
        assert (await client.get(ITEMS)).status == 401

    async def test_queries_do_not_grow_with_the_page(
        self, client: TestClient, mall: MallKit
    ) -> None:
        shopper = await mall.shopper(10_000)
        small = await queries_for(client, mall, shopper, items=2)
        large = await queries_for(client, mall, shopper, items=12)
        assert small == large


async def queries_for(client: TestClient, mall: MallKit, shopper: Shopper, *, items: int) -> int:
    """How many SQL statements one page of the mall costs with `items` items redeemed."""
    for _ in range(items):
        item = await mall.item(limit_count=5)
        await mall.redeemed(shopper, item.id, address=ADDRESS)
    statements: list[str] = []

    class Count(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            statements.append(record.getMessage())

    logger = logging.getLogger("tortoise.db_client")
    handler = Count(level=logging.DEBUG)
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        listed_items = await listed(client, shopper.headers, "?limit=50")
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)
    assert all(item["remaining"] is not None for item in listed_items)
    return len([s for s in statements if s.lstrip().upper().startswith("SELECT")])


class TestItemDetail:
    async def test_one_item_for_this_member(self, client: TestClient, mall: MallKit) -> None:
        shopper = await mall.shopper(100)
        item = await mall.item(points_price=100, limit_count=2, images=["https://x.cn/a.jpg"])
        response = await client.get(f"{ITEMS}/{item.id}", headers=shopper.headers)
        assert response.status == 200
        body = await response.json()
        assert body == {
            "id": item.id,
            "title": "随行杯",
            "description": "",
            "images": ["https://x.cn/a.jpg"],
            "kind": "physical",
            "points_price": 100,
            "stock_state": "in_stock",
            "limit": {"period": "lifetime", "count": 2},
            "remaining": 2,
            "eligible": True,
            "affordable": True,
            "sale_ends_at": None,
        }

    async def test_items_not_on_sale_are_404(self, client: TestClient, mall: MallKit) -> None:
        shopper = await mall.shopper()
        off = await mall.item(active=False)
        for path in (f"{ITEMS}/{off.id}", f"{ITEMS}/999", f"{ITEMS}/abc"):
            response = await client.get(path, headers=shopper.headers)
            assert response.status == 404
        response = await client.get(f"{ITEMS}/{off.id}", headers=shopper.headers)
        assert await error_code(response) == "item_not_found"
