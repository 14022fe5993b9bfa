"""The coupon centre and claiming: what is on offer, to whom, when, and every refusal."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from aiohttp.test_utils import TestClient

from handlers.coupons.issuing import flag_sold_out, flagged_sold_out, soldout_key
from handlers.coupons.templates import add_stock
from tests.coupons.conftest import NOW, MemberMaker, TemplateMaker
from tests.support.http import error_code
from wxmember.core.clock import FrozenClock
from wxmember.core.context import Services
from wxmember.core.models import Operator
from wxmember.core.models.coupons import Coupon, CouponClaimCounter, CouponTemplate

CENTRE = "/api/v1/coupons/center"


def claim_url(template_id: int | str) -> str:
    return f"{CENTRE}/{template_id}/claim"


class TestCentre:
    async def test_lists_claimable_templates_with_stock_and_my_counts(
        self,
        client: TestClient,
        clock: FrozenClock,
        new_template: TemplateMaker,
        new_member: MemberMaker,
    ) -> None:
        cash = await new_template(per_member_limit=2)
        unlimited = await new_template(title="9折", kind="discount", value=10, total_stock=None)
        await new_template(title="生日礼", obtain="issued")
        ended = await new_template(title="已结束", claim_ends_at=NOW - timedelta(days=1))
        stopped = await new_template(title="已停止")
        await CouponTemplate.filter(id=stopped.id).update(stopped=True)
        member, headers = await new_member()
        assert (await client.post(claim_url(cash.id), headers=headers)).status == 201

        response = await client.get(CENTRE, headers=headers)
        assert response.status == 200
        items = {item["id"]: item for item in (await response.json())["items"]}
        assert set(items) == {cash.id, unlimited.id}
        assert ended.id not in items
        first = items[cash.id]
        assert first["remaining"] == 99
        assert (first["held"], first["claimed_by_me"], first["claimable_count"]) == (1, 1, 1)
        assert first["can_claim"] is True
        assert first["reason"] is None
        assert items[unlimited.id]["remaining"] is None
        assert items[unlimited.id]["description"] == "满50享9折"

    @pytest.mark.parametrize(
        ("setup", "reason"),
        [
            ({"claim_starts_at": NOW + timedelta(hours=1)}, "not_started"),
            ({"eligible_tiers": [2]}, "not_eligible"),
            ({"total_stock": 1, "claimed_by_other": True}, "sold_out"),
            ({"per_member_limit": 1, "claimed_by_me": True}, "limit_reached"),
        ],
    )
    async def test_says_why_a_coupon_cannot_be_claimed(
        self,
        client: TestClient,
        services: Services,
        clock: FrozenClock,
        new_template: TemplateMaker,
        new_member: MemberMaker,
        setup: dict,
        reason: str,
    ) -> None:
        await new_member(level=2)
        fields = {k: v for k, v in setup.items() if not k.startswith("claimed_by")}
        template = await new_template(**fields)
        member, headers = await new_member()
        if setup.get("claimed_by_other"):
            _, other = await new_member()
            assert (await client.post(claim_url(template.id), headers=other)).status == 201
        if setup.get("claimed_by_me"):
            assert (await client.post(claim_url(template.id), headers=headers)).status == 201
        items = (await (await client.get(CENTRE, headers=headers)).json())["items"]
        assert [(i["reason"], i["can_claim"], i["claimable_count"]) for i in items] == [
            (reason, False, 0)
        ]

    async def test_no_query_per_template(
        self,
        client: TestClient,
        clock: FrozenClock,
        new_template: TemplateMaker,
        new_member: MemberMaker,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        member, headers = await new_member()

        async def coupon_queries() -> int:
            caplog.clear()
            with caplog.at_level(logging.DEBUG, logger="tortoise.db_client"):
                response = await client.get(CENTRE, headers=headers)
                assert response.status == 200
            return sum(
                1
                for record in caplog.records
                if record.name == "tortoise.db_client" and "coupon" in record.getMessage()
            )

        first = await new_template()
        await client.post(claim_url(first.id), headers=headers)
        with_one = await coupon_queries()
        for i in range(8):
            template = await new_template(title=f"券{i}")
            await client.post(claim_url(template.id), headers=headers)
        # the definitions (kept until a template changes), then the page's stock, the claim
        # counters and the coupons held in one statement
        assert await coupon_queries() == with_one == 2
        assert await coupon_queries() == 1

    async def test_kept_definitions_give_way_to_a_change_and_the_stock_is_read_each_time(
        self,
        client: TestClient,
        staff: dict[str, str],
        clock: FrozenClock,
        new_template: TemplateMaker,
        new_member: MemberMaker,
    ) -> None:
        template = await new_template(total_stock=5, claim_ends_at=NOW + timedelta(days=1))
        _, headers = await new_member()
        _, other = await new_member()

        async def shown() -> list[tuple[str, int]]:
            items = (await (await client.get(CENTRE, headers=headers)).json())["items"]
            return [(item["title"], item["remaining"]) for item in items]

        async def status() -> tuple[str, str | None]:
            item = (await (await client.get(CENTRE, headers=headers)).json())["items"][0]
            return item["status"], item["reason"]

        assert await shown() == [(template.title, 5)]
        assert await status() == ("active", None)
        assert (await client.post(claim_url(template.id), headers=other)).status == 201
        assert await shown() == [(template.title, 4)]
        for _ in range(4):
            _, another = await new_member()
            assert (await client.post(claim_url(template.id), headers=another)).status == 201
        assert await status() == ("sold_out", "sold_out")
        more = {"total_stock": 9}
        admin = "/admin/api/v1/coupon-templates"
        restocked = await client.patch(f"{admin}/{template.id}", json=more, headers=staff)
        assert restocked.status == 200
        assert await status() == ("active", None)
        renamed = await client.patch(
            f"{admin}/{template.id}", json={"title": "新名"}, headers=staff
        )
        assert renamed.status == 200
        assert await shown() == [("新名", 4)]
        later = await new_template(title="后来的")
        assert await shown() == [("后来的", 100), ("新名", 4)]
        assert (await client.post(f"{admin}/{later.id}/stop", headers=staff)).status == 200
        assert await shown() == [("新名", 4)]
        clock.advance(days=2)  # past the claim window: ended, no longer listed
        assert await shown() == []

    async def test_needs_a_session(self, client: TestClient) -> None:
        assert (await client.get(CENTRE)).status == 401


class TestClaim:
    async def test_claim_issues_a_coupon_with_a_code(
        self,
        client: TestClient,
        clock: FrozenClock,
        new_template: TemplateMaker,
        new_member: MemberMaker,
    ) -> None:
        template = await new_template(terms="堂食可用")
        member, headers = await new_member()
        response = await client.post(claim_url(template.id), headers=headers)
        assert response.status == 201, await response.text()
        body = await response.json()
        assert len(body["code"]) == 12
        assert body["code_display"] == "-".join(body["code"][i : i + 4] for i in (0, 4, 8))
        assert body["status"] == "unused"
        assert body["source"] == "claim"
        assert body["terms"] == "堂食可用"
        assert body["valid_until"] == "2025-04-09T00:00:00+08:00"
        fresh = await CouponTemplate.get(id=template.id)
        assert (fresh.remaining, fresh.claimed) == (99, 1)
        counter = await CouponClaimCounter.get(member_id=member.id, template_id=template.id)
        assert counter.count == 1

    @pytest.mark.parametrize(
        ("fields", "code"),
        [
            ({"claim_starts_at": NOW + timedelta(minutes=1)}, "not_started"),
            ({"claim_ends_at": NOW}, "ended"),
            ({"claim_ends_at": NOW - timedelta(days=1)}, "ended"),
            ({"obtain": "issued"}, "not_claimable"),
            ({"eligible_tiers": [3]}, "not_eligible"),
            (
                {
                    "valid_days": None,
                    "valid_from": NOW - timedelta(days=10),
                    "valid_until": NOW - timedelta(seconds=1),
                },
                "ended",
            ),
        ],
    )
    async def test_refusals(
        self,
        client: TestClient,
        clock: FrozenClock,
        new_template: TemplateMaker,
        new_member: MemberMaker,
        fields: dict,
        code: str,
    ) -> None:
        await new_member(level=3)
        template = await new_template(**fields)
        _, headers = await new_member()
        response = await client.post(claim_url(template.id), headers=headers)
        assert response.status == 409
        assert await error_code(response) == code
        assert await Coupon.all().count() == 0
        assert (await CouponTemplate.get(id=template.id)).remaining == 100

    async def test_window_edges(
        self,
        client: TestClient,
        clock: FrozenClock,
        new_template: TemplateMaker,
        new_member: MemberMaker,
    ) -> None:
        template = await new_template(
            per_member_limit=5,
            claim_starts_at=NOW + timedelta(hours=1),
            claim_ends_at=NOW + timedelta(hours=2),
        )
        _, headers = await new_member()
        statuses = []
        for offset in (
            timedelta(minutes=59),
            timedelta(hours=1),
            timedelta(hours=2) - timedelta(seconds=1),
            timedelta(hours=2),
        ):
            clock.set(NOW + offset)
            statuses.append((await client.post(claim_url(template.id), headers=headers)).status)
        assert statuses == [409, 201, 201, 409]

    async def test_eligible_by_tier_level(
        self,
        client: TestClient,
        clock: FrozenClock,
        new_template: TemplateMaker,
        new_member: MemberMaker,
    ) -> None:
        _, gold = await new_member(level=2)
        _, silver = await new_member(level=1)
        _, entry = await new_member()
        template = await new_template(eligible_tiers=[1, 2])
        results = [
            (await client.post(claim_url(template.id), headers=h)).status
            for h in (gold, silver, entry)
        ]
        assert results == [201, 201, 409]

    async def test_per_member_limit(
        self,
        client: TestClient,
        clock: FrozenClock,
        new_template: TemplateMaker,
        new_member: MemberMaker,
    ) -> None:
        template = await new_template(per_member_limit=2)
        _, headers = await new_member()
        responses = [await client.post(claim_url(template.id), headers=headers) for _ in range(3)]
        assert [r.status for r in responses] == [201, 201, 409]
        assert await error_code(responses[2]) == "limit_reached"
        codes = {c.code for c in await Coupon.all()}
        assert len(codes) == 2

    async def test_sold_out_sets_the_redis_flag(
        self,
        client: TestClient,
        services: Services,
        clock: FrozenClock,
        new_template: TemplateMaker,
        new_member: MemberMaker,
    ) -> None:
        template = await new_template(total_stock=1)
        _, first = await new_member()
        _, second = await new_member()
        assert (await client.post(claim_url(template.id), headers=first)).status == 201
        refused = await client.post(claim_url(template.id), headers=second)
        assert await error_code(refused) == "sold_out"
        assert await services.redis.exists(soldout_key(template.id))
        assert 0 < await services.redis.ttl(soldout_key(template.id)) <= 300

    async def test_redis_flag_answers_without_the_database(
        self,
        client: TestClient,
        services: Services,
        clock: FrozenClock,
        new_template: TemplateMaker,
        new_member: MemberMaker,
    ) -> None:
        template = await new_template()
        _, headers = await new_member()
        # A flag the database disagrees with shows the answer came from Redis alone.
        await services.redis.set(soldout_key(template.id), b"1")
        response = await client.post(claim_url(template.id), headers=headers)
        assert await error_code(response) == "sold_out"
        assert (await CouponTemplate.get(id=template.id)).claimed == 0

    async def test_a_process_that_knows_it_sold_out_refuses_without_asking_redis(
        self,
        client: TestClient,
        services: Services,
        clock: FrozenClock,
        staff: dict[str, str],
        new_template: TemplateMaker,
        new_member: MemberMaker,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        template = await new_template(total_stock=1)
        _, first = await new_member()
        _, second = await new_member()
        await client.post(claim_url(template.id), headers=first)
        assert await error_code(await client.post(claim_url(template.id), headers=second)) == (
            "sold_out"
        )
        asked: list[str] = []
        exists = services.redis.exists

        async def counting_exists(*keys: str) -> int:
            asked.extend(keys)
            return await exists(*keys)

        monkeypatch.setattr(services.redis, "exists", counting_exists)
        for _ in range(3):
            refused = await client.post(claim_url(template.id), headers=second)
            assert await error_code(refused) == "sold_out"
        assert soldout_key(template.id) not in asked
        # stock added is everyone's change: the process forgets what it knew
        await add_stock(services, await Operator.get(username="op-coupons"), template.id, 1)
        assert (await client.post(claim_url(template.id), headers=second)).status == 201

    async def test_a_refusal_flagged_after_stock_was_added_leaves_no_flag(
        self,
        client: TestClient,
        services: Services,
        clock: FrozenClock,
        staff: dict[str, str],
        new_template: TemplateMaker,
        new_member: MemberMaker,
    ) -> None:
        template = await new_template(total_stock=1)
        _, first = await new_member()
        _, second = await new_member()
        assert (await client.post(claim_url(template.id), headers=first)).status == 201
        # a claim read "sold out"; an operator adds stock (clearing the flag) before the
        # claim gets to flag it
        await add_stock(services, await Operator.get(username="op-coupons"), template.id, 1)
        await flag_sold_out(services, template.id)
        assert not await services.redis.exists(soldout_key(template.id))
        assert not await flagged_sold_out(services, template.id)
        assert (await client.post(claim_url(template.id), headers=second)).status == 201

    async def test_raising_stock_clears_the_flag(
        self,
        client: TestClient,
        services: Services,
        clock: FrozenClock,
        staff: dict[str, str],
        new_template: TemplateMaker,
        new_member: MemberMaker,
    ) -> None:
        template = await new_template(total_stock=1)
        _, first = await new_member()
        _, second = await new_member()
        await client.post(claim_url(template.id), headers=first)
        assert (await client.post(claim_url(template.id), headers=second)).status == 409
        await client.patch(
            f"/admin/api/v1/coupon-templates/{template.id}", json={"total_stock": 2}, headers=staff
        )
        assert (await client.post(claim_url(template.id), headers=second)).status == 201

    async def test_stopped_template_cannot_be_claimed(
        self,
        client: TestClient,
        clock: FrozenClock,
        staff: dict[str, str],
        new_template: TemplateMaker,
        new_member: MemberMaker,
    ) -> None:
        template = await new_template()
        _, headers = await new_member()
        await client.post(f"/admin/api/v1/coupon-templates/{template.id}/stop", headers=staff)
        response = await client.post(claim_url(template.id), headers=headers)
        assert await error_code(response) == "ended"

    async def test_unknown_template(
        self, client: TestClient, clock: FrozenClock, new_member: MemberMaker
    ) -> None:
        _, headers = await new_member()
        response = await client.post(claim_url(999), headers=headers)
        assert response.status == 404
        assert await error_code(response) == "template_not_found"
        assert (await client.post(claim_url("x1"), headers=headers)).status == 404


class TestPrecheckSwitch:
    @pytest.fixture
    def settings(self, settings: dict) -> dict:
        return settings | {"coupons": {"redis_precheck": False}}

    async def test_without_precheck_redis_is_not_consulted(
        self,
        client: TestClient,
        services: Services,
        clock: FrozenClock,
        new_template: TemplateMaker,
        new_member: MemberMaker,
    ) -> None:
        template = await new_template(total_stock=1)
        await services.redis.set(soldout_key(template.id), b"1")
        _, headers = await new_member()
        assert (await client.post(claim_url(template.id), headers=headers)).status == 201
        _, other = await new_member()
        refused = await client.post(claim_url(template.id), headers=other)
        assert await error_code(refused) == "sold_out"


class TestRedisUnavailable:
    async def test_claims_still_judged_by_the_database(
        self,
        client: TestClient,
        services: Services,
        clock: FrozenClock,
        new_template: TemplateMaker,
        new_member: MemberMaker,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        async def down(*args: object, **kwargs: object) -> None:
            raise ConnectionError("redis is down")

        for command in ("exists", "set", "delete"):
            monkeypatch.setattr(services.redis, command, down)
        template = await new_template(total_stock=1)
        _, first = await new_member()
        _, second = await new_member()
        assert (await client.post(claim_url(template.id), headers=first)).status == 201
        refused = await client.post(claim_url(template.id), headers=second)
        assert refused.status == 409
        assert await error_code(refused) == "sold_out"
