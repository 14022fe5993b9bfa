"""A saved segment's filter: each criterion on a small hand-made set of members, combinations,
one statement per count, and the compiled statement against a Python reference."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from handlers.segments import saved
from handlers.segments.criteria import Criteria
from handlers.segments.rules import Segment
from tests.factories import entry_tier
from tests.segments.saved_kit import People, reference
from tests.support.localtime import SHANGHAI
from wxmember.core.context import Services
from wxmember.core.models.tags import Tag
from wxmember.core.models.tiers import Tier


def at(year: int, month: int, day: int, hour: int = 12) -> datetime:
    return datetime(year, month, day, hour, tzinfo=SHANGHAI)


@dataclass
class World:
    """Five card holders (a, b, c, d, and f, who deleted the account) and a guest (g)."""

    ids: dict[str, int]
    silver: Tier
    vip: Tag
    regular: Tag
    lapsed: Tag

    def names(self, found: set[int]) -> set[str]:
        return {name for name, member_id in self.ids.items() if member_id in found}


@pytest.fixture
async def world(client: TestClient) -> World:
    people = People()
    entry = await entry_tier()
    silver = await Tier.create(name="银卡", level=1, growth_threshold=1000)
    vip, regular, lapsed = [await people.tag(n) for n in ("VIP", "常客", "流失")]
    # a: two purchases at 南京路, follows, a grant, VIP, important value
    a = await people.member(tier=entry, birth_month=5, points=100, opened=at(2024, 1, 10))
    await people.buy(a, at(2025, 5, 20), 10_000, store="上海南京路")
    await people.buy(a, at(2025, 6, 1), 5_000, store="上海南京路")
    await people.follower(a)
    await people.grant(a, "tpl-birthday")
    await people.tag_member(a, vip)
    await people.rfm(a, "important_value", 5, 4, 5)
    # b: silver; one purchase refunded in full (王府井), one in part; unfollowed; grant used up
    b = await people.member(tier=silver, birth_month=12, points=5_000, opened=at(2025, 3, 1))
    await people.buy(b, at(2025, 6, 10), 30_000, refunded=30_000, store="北京王府井")
    await people.buy(b, at(2024, 11, 5), 20_000, refunded=5_000, store="北京三里屯")
    await people.follower(b, subscribed=False)
    await people.grant(b, "tpl-birthday", remaining=0)
    await people.tag_member(b, vip, regular)
    await people.rfm(b, "general_winback", 1, 1, 2)
    # c: never bought, no RFM row, 常客
    c = await people.member(tier=entry, birth_month=5, points=0, opened=at(2025, 6, 1))
    await people.tag_member(c, regular)
    # d: silver, three small purchases, 流失, no birthday
    d = await people.member(tier=silver, birth_month=None, points=800, opened=at(2024, 8, 8))
    for day in (1, 2, 3):
        await people.buy(d, at(2024, 2, day), 1_000, store="上海南京路")
    await people.tag_member(d, lapsed)
    await people.rfm(d, "general_retention", 1, 3, 1)
    # f: like a, but deleted the account; g: logged in, no card
    f = await people.member(tier=entry, birth_month=5, points=100, deleted=True)
    await people.buy(f, at(2025, 6, 1), 5_000, store="上海南京路")
    await people.follower(f)
    await people.grant(f, "tpl-birthday")
    await people.tag_member(f, vip)
    await people.rfm(f, "important_value", 5, 4, 5)
    g = await people.member(tier=entry, card=False)
    ids = {"a": a.id, "b": b.id, "c": c.id, "d": d.id, "f": f.id, "g": g.id}
    return World(ids, silver, vip, regular, lapsed)


async def selected(services: Services, world: World, criteria: dict[str, Any]) -> set[str]:
    """The members a filter selects, by count, by member ids and by the sample alike."""
    parsed = Criteria.model_validate(criteria)
    ids: set[int] = set()
    async for batch in saved.member_ids(services, parsed, batch=2):
        assert batch == sorted(batch)
        ids.update(batch)
    assert await saved.count(services, parsed) == len(ids)
    sample = await saved.sample(services, parsed, limit=100)
    assert {row["id"] for row in sample} == ids
    assert [row["id"] for row in sample] == sorted(ids, reverse=True)
    assert ids == await reference(parsed)
    return world.names(ids)


class TestEachCriterion:
    async def test_no_criterion_selects_every_live_card_holder(
        self, services: Services, world: World
    ) -> None:
        assert await selected(services, world, {}) == {"a", "b", "c", "d"}

    async def test_tier(self, services: Services, world: World) -> None:
        assert await selected(services, world, {"tier_ids": [world.silver.id]}) == {"b", "d"}

    async def test_rfm_segment(self, services: Services, world: World) -> None:
        wanted = {"rfm_segments": ["important_value", "general_retention"]}
        assert await selected(services, world, wanted) == {"a", "d"}

    async def test_rfm_scores(self, services: Services, world: World) -> None:
        assert await selected(services, world, {"r_score": {"min": 4}}) == {"a"}
        assert await selected(services, world, {"f_score": {"min": 1, "max": 3}}) == {"b", "d"}
        assert await selected(services, world, {"m_score": {"max": 2}}) == {"b", "d"}

    async def test_last_purchase_before_and_after_are_local_days(
        self, services: Services, world: World
    ) -> None:
        # b's purchase of 10 June was refunded in full: their last counted one is in 2024
        assert await selected(services, world, {"last_purchase_after": "2025-05-31"}) == {"a"}
        assert await selected(services, world, {"last_purchase_after": "2025-06-01"}) == set()
        assert await selected(services, world, {"last_purchase_before": "2025-01-01"}) == {
            "b",
            "d",
        }
        assert await selected(services, world, {"last_purchase_before": "2024-02-03"}) == set()
        assert await selected(services, world, {"last_purchase_before": "2024-02-04"}) == {"d"}

    async def test_purchase_count_nets_refunds(self, services: Services, world: World) -> None:
        assert await selected(services, world, {"purchase_count": {"min": 2}}) == {"a", "d"}
        assert await selected(services, world, {"purchase_count": {"max": 0}}) == {"c"}
        assert await selected(services, world, {"purchase_count": {"min": 1, "max": 1}}) == {"b"}

    async def test_purchase_amount_nets_refunds(self, services: Services, world: World) -> None:
        # a 15,000; b 15,000 (20,000 less 5,000; the other refunded in full); c 0; d 3,000
        amount = {"purchase_amount_fen": {"min": 15_000, "max": 15_000}}
        assert await selected(services, world, amount) == {"a", "b"}
        assert await selected(services, world, {"purchase_amount_fen": {"max": 3_000}}) == {
            "c",
            "d",
        }

    async def test_points_balance(self, services: Services, world: World) -> None:
        wanted = {"points_balance": {"min": 100, "max": 800}}
        assert await selected(services, world, wanted) == {"a", "d"}

    async def test_birthday_month(self, services: Services, world: World) -> None:
        assert await selected(services, world, {"birth_months": [5]}) == {"a", "c"}
        assert await selected(services, world, {"birth_months": [12, 1]}) == {"b"}

    async def test_card_opened(self, services: Services, world: World) -> None:
        assert await selected(services, world, {"card_opened_after": "2025-03-01"}) == {"c"}
        assert await selected(services, world, {"card_opened_after": "2025-02-28"}) == {"b", "c"}
        assert await selected(services, world, {"card_opened_before": "2024-08-08"}) == {"a"}

    async def test_store_counts_purchases_not_refunded_in_full(
        self, services: Services, world: World
    ) -> None:
        assert await selected(services, world, {"stores": ["上海南京路"]}) == {"a", "d"}
        assert await selected(services, world, {"stores": ["北京王府井"]}) == set()
        assert await selected(services, world, {"stores": ["北京王府井", "北京三里屯"]}) == {"b"}

    async def test_follows_the_official_account(self, services: Services, world: World) -> None:
        assert await selected(services, world, {"follows_official_account": True}) == {"a"}
        assert await selected(services, world, {"follows_official_account": False}) == {
            "b",
            "c",
            "d",
        }

    async def test_an_unused_subscribe_grant(self, services: Services, world: World) -> None:
        assert await selected(services, world, {"subscribe_template_id": "tpl-birthday"}) == {"a"}
        assert await selected(services, world, {"subscribe_template_id": "tpl-other"}) == set()

    async def test_tags_any_all_none(self, services: Services, world: World) -> None:
        vip, regular, lapsed = world.vip.id, world.regular.id, world.lapsed.id
        assert await selected(services, world, {"tags_any": [vip, lapsed]}) == {"a", "b", "d"}
        assert await selected(services, world, {"tags_all": [vip, regular]}) == {"b"}
        assert await selected(services, world, {"tags_none": [vip]}) == {"c", "d"}


class TestCombinations:
    async def test_criteria_are_all_required(self, services: Services, world: World) -> None:
        wanted: dict[str, Any] = {"birth_months": [5], "purchase_count": {"min": 1}}
        assert await selected(services, world, wanted) == {"a"}
        wanted = {"tier_ids": [world.silver.id], "tags_none": [world.lapsed.id]}
        assert await selected(services, world, wanted) == {"b"}
        wanted = {
            "tags_any": [world.vip.id, world.regular.id],
            "tags_none": [world.lapsed.id],
            "follows_official_account": False,
            "purchase_amount_fen": {"min": 1},
        }
        assert await selected(services, world, wanted) == {"b"}

    async def test_every_criterion_at_once(self, services: Services, world: World) -> None:
        wanted = {
            "tier_ids": [(await entry_tier()).id],
            "rfm_segments": ["important_value"],
            "r_score": {"min": 5},
            "f_score": {"min": 4},
            "m_score": {"min": 5},
            "last_purchase_after": "2025-05-01",
            "last_purchase_before": "2025-06-15",
            "purchase_count": {"min": 2, "max": 2},
            "purchase_amount_fen": {"min": 15_000},
            "points_balance": {"min": 1},
            "birth_months": [5],
            "card_opened_after": "2023-12-31",
            "card_opened_before": "2024-02-01",
            "stores": ["上海南京路"],
            "follows_official_account": True,
            "subscribe_template_id": "tpl-birthday",
            "tags_any": [world.vip.id],
            "tags_all": [world.vip.id],
            "tags_none": [world.lapsed.id],
        }
        assert await selected(services, world, wanted) == {"a"}


class TestOneStatement:
    async def test_a_count_and_a_sample_are_one_statement_each(
        self, services: Services, world: World, caplog: pytest.LogCaptureFixture
    ) -> None:
        criteria = Criteria.model_validate(
            {
                "tier_ids": [world.silver.id],
                "rfm_segments": ["general_winback"],
                "purchase_count": {"min": 1},
                "stores": ["北京三里屯"],
                "follows_official_account": False,
                "subscribe_template_id": "tpl-birthday",
                "tags_all": [world.vip.id, world.regular.id],
                "tags_none": [world.lapsed.id],
            }
        )
        for run in (saved.count, saved.sample):
            caplog.clear()
            with caplog.at_level(logging.DEBUG, logger="tortoise.db_client"):
                await run(services, criteria)
            statements = [r for r in caplog.records if r.name == "tortoise.db_client"]
            assert len(statements) == 1, [r.getMessage() for r in statements]


class TestAgainstReference:
    """Random members and histories, random filters: the statement agrees with Python."""

    async def test_random_filters_on_random_members(
        self, client: TestClient, services: Services
    ) -> None:
        rng = random.Random(17)
        people = People()
        tiers = [await entry_tier()] + [
            await Tier.create(name=f"等级{n}", level=n, growth_threshold=n * 100) for n in (1, 2)
        ]
        tags = [await people.tag(f"标签{n}") for n in range(4)]
        stores = ["南京路", "王府井", "三里屯"]
        start = at(2024, 1, 1)
        for _ in range(60):
            member = await people.member(
                tier=rng.choice(tiers),
                birth_month=rng.choice([None, *range(1, 13)]),
                points=rng.choice([0, 50, 100, 500, 2000]),
                opened=start + timedelta(days=rng.randrange(500), hours=rng.randrange(24)),
                deleted=rng.random() < 0.1,
            )
            for _ in range(rng.choice([0, 0, 1, 2, 3, 5])):
                fen = rng.choice([1000, 5000, 20000])
                await people.buy(
                    member,
                    start + timedelta(days=rng.randrange(530), hours=rng.randrange(24)),
                    fen,
                    refunded=rng.choice([0, 0, 0, fen // 2, fen]),
                    store=rng.choice([None, *stores]),
                )
            if rng.random() < 0.5:
                await people.follower(member, subscribed=rng.random() < 0.7)
            if rng.random() < 0.4:
                await people.grant(member, "tpl-a", remaining=rng.choice([0, 1, 2]))
            await people.tag_member(member, *rng.sample(tags, rng.randrange(4)))
            if rng.random() < 0.8:
                r, f, m = (rng.randint(1, 5) for _ in range(3))
                await people.rfm(member, rng.choice(list(Segment)), r, f, m)
        for _ in range(80):
            criteria = random_criteria(rng, tiers, tags, stores)
            parsed = Criteria.model_validate(criteria)
            expected = await reference(parsed)
            assert await saved.count(services, parsed) == len(expected), criteria
            ids = [i async for batch in saved.member_ids(services, parsed, batch=7) for i in batch]
            assert ids == sorted(expected), criteria


def _range(rng: random.Random, low: int, high: int) -> dict[str, int]:
    a, b = sorted(rng.randint(low, high) for _ in range(2))
    return rng.choice([{"min": a}, {"max": b}, {"min": a, "max": b}])


def _day(rng: random.Random) -> date:
    return date(2024, 1, 1) + timedelta(days=rng.randrange(540))


def random_criteria(
    rng: random.Random, tiers: list[Tier], tags: list[Tag], stores: list[str]
) -> dict[str, Any]:
    makers: dict[str, Callable[[], Any]] = {
        "tier_ids": lambda: [t.id for t in rng.sample(tiers, rng.randint(1, 2))],
        "rfm_segments": lambda: [str(s) for s in rng.sample(list(Segment), 3)],
        "r_score": lambda: _range(rng, 1, 5),
        "f_score": lambda: _range(rng, 1, 5),
        "m_score": lambda: _range(rng, 1, 5),
        "last_purchase_after": lambda: _day(rng).isoformat(),
        "last_purchase_before": lambda: _day(rng).isoformat(),
        "purchase_count": lambda: _range(rng, 0, 4),
        "purchase_amount_fen": lambda: _range(rng, 0, 40_000),
        "points_balance": lambda: _range(rng, 0, 1000),
        "birth_months": lambda: rng.sample(range(1, 13), rng.randint(1, 4)),
        "card_opened_after": lambda: _day(rng).isoformat(),
        "card_opened_before": lambda: _day(rng).isoformat(),
        "stores": lambda: rng.sample(stores, rng.randint(1, 2)),
        "follows_official_account": lambda: rng.random() < 0.5,
        "subscribe_template_id": lambda: "tpl-a",
    }
    chosen = {name: makers[name]() for name in rng.sample(sorted(makers), rng.randint(1, 3))}
    for prefix in ("last_purchase", "card_opened"):
        after, before = chosen.get(f"{prefix}_after"), chosen.get(f"{prefix}_before")
        if after and before and after >= before:
            chosen[f"{prefix}_after"], chosen[f"{prefix}_before"] = before, after
            if before == after:
                del chosen[f"{prefix}_after"]
    shuffled = rng.sample(tags, len(tags))
    if rng.random() < 0.5:
        chosen["tags_any"] = [t.id for t in shuffled[:2]]
    if rng.random() < 0.3:
        chosen["tags_all"] = [t.id for t in shuffled[1:3]]
    if rng.random() < 0.3:
        chosen["tags_none"] = [shuffled[3].id]
    return chosen
