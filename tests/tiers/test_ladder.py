"""The tier ladder through the admin API: list, create, update, delete, and every ladder rule."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.support.http import error_code
from tests.tiers.conftest import MemberIn
from wxmember.core.models.members import Member
from wxmember.core.models.operators import AuditEntry
from wxmember.core.models.tier_history import TierChange
from wxmember.core.models.tiers import Tier

BASE = "/admin/api/v1/tiers"

PLATINUM = {
    "name": "黑金会员",
    "level": 4,
    "color": "#111827",
    "growth_threshold": 50000,
    "retention_threshold": 40000,
    "multiplier_percent": 200,
    "upgrade_gift_points": 2000,
    "benefits": [
        {"title": "积分 2 倍", "kind": "points_multiplier"},
        {"title": "生日券", "kind": "birthday_gift", "coupon_template_id": 7, "points": 500},
        {
            "title": "每月礼券",
            "kind": "monthly_coupons",
            "coupons": [{"template_id": 3, "count": 2}, {"template_id": 4}],
        },
        {"title": "包邮", "kind": "free_shipping"},
        {"title": "专属客服", "kind": "text", "description": "专线"},
    ],
}


async def _ladder_snapshot() -> list[tuple[Any, ...]]:
    return (
        await Tier.all()
        .order_by("level")
        .values_list(
            "name", "level", "growth_threshold", "retention_threshold", "multiplier_percent"
        )
    )


@pytest.fixture
async def staff(login_as: Any) -> dict[str, str]:
    return await login_as("operator")


class TestListTiers:
    async def test_ladder_with_member_counts(
        self, client: TestClient, staff: dict[str, str], member_in: MemberIn
    ) -> None:
        await member_in("gold")
        await member_in("gold")
        await member_in()
        response = await client.get(BASE, headers=staff)
        assert response.status == 200
        items = (await response.json())["items"]
        assert [(t["name"], t["level"], t["member_count"]) for t in items] == [
            ("普通会员", 0, 1),
            ("银卡会员", 1, 0),
            ("金卡会员", 2, 2),
            ("钻石会员", 3, 0),
        ]
        assert items[2]["multiplier_percent"] == 125
        assert items[2]["upgrade_gift_points"] == 300

    async def test_one_tier(
        self, client: TestClient, staff: dict[str, str], ladder: dict[str, Tier]
    ) -> None:
        response = await client.get(f"{BASE}/{ladder['gold'].id}", headers=staff)
        assert (await response.json())["name"] == "金卡会员"
        missing = await client.get(f"{BASE}/999", headers=staff)
        assert missing.status == 404
        assert await error_code(missing) == "tier_not_found"
        bad = await client.get(f"{BASE}/abc", headers=staff)
        assert bad.status == 404

    @pytest.mark.parametrize(
        ("method", "path"),
        [
            ("GET", BASE),
            ("POST", BASE),
            ("GET", f"{BASE}/1"),
            ("PUT", f"{BASE}/1"),
            ("PATCH", f"{BASE}/1"),
            ("DELETE", f"{BASE}/1"),
            ("PUT", "/admin/api/v1/members/1/tier"),
            ("GET", "/admin/api/v1/tier-changes"),
            ("GET", "/admin/api/v1/tier-evaluations"),
        ],
    )
    async def test_cashiers_may_not(
        self, client: TestClient, login_as: Any, method: str, path: str
    ) -> None:
        headers = await login_as("cashier")
        response = await client.request(method, path, headers=headers, json={})
        assert response.status == 403
        anonymous = await client.request(method, path, json={})
        assert anonymous.status == 401

    async def test_owner_may(self, client: TestClient, login_as: Any, ladder: dict) -> None:
        response = await client.get(BASE, headers=await login_as("owner"))
        assert response.status == 200


class TestCreateTier:
    async def test_create_is_audited(
        self, client: TestClient, staff: dict[str, str], ladder: dict[str, Tier]
    ) -> None:
        response = await client.post(BASE, json=PLATINUM, headers=staff)
        assert response.status == 201, await response.text()
        body = await response.json()
        assert body["benefits"][1] == {
            "title": "生日券",
            "description": "",
            "kind": "birthday_gift",
            "coupon_template_id": 7,
            "points": 500,
        }
        assert body["benefits"][2]["coupons"][1] == {"template_id": 4, "count": 1}
        tier = await Tier.get(id=body["id"])
        assert tier.name == "黑金会员" and tier.upgrade_gift_points == 2000
        audit = await AuditEntry.get(action="tier.create")
        assert audit.actor == "operator-user" and audit.target_id == str(tier.id)
        assert audit.after is not None and audit.after["growth_threshold"] == 50000

    async def test_first_tier_of_an_empty_ladder_is_the_entry_tier(
        self, client: TestClient, staff: dict[str, str]
    ) -> None:
        await Tier.all().delete()  # a ladder emptied outside the API (installs start with one)
        wrong = await client.post(BASE, json=PLATINUM, headers=staff)
        assert await error_code(wrong) == "no_entry_tier"
        entry = {"name": "普通会员", "level": 0, "growth_threshold": 0}
        response = await client.post(BASE, json=entry, headers=staff)
        assert response.status == 201
        assert (await response.json())["multiplier_percent"] == 100

    async def test_at_most_twenty_tiers(
        self, client: TestClient, staff: dict[str, str], ladder: dict[str, Tier]
    ) -> None:
        for level in range(4, 20):
            tier = {"name": f"T{level}", "level": level, "growth_threshold": level * 10000}
            assert (await client.post(BASE, json=tier, headers=staff)).status == 201
        one_more = {"name": "T20", "level": 20, "growth_threshold": 200000}
        response = await client.post(BASE, json=one_more, headers=staff)
        assert response.status == 400
        assert await error_code(response) == "too_many_tiers"


# Each case breaks one rule; (fields of a new tier 4, or of a change to an existing tier).
INVALID_NEW = [
    ({"name": ""}, "invalid_name"),
    ({"name": "一二三四五六七八九十一二三四五六七"}, "invalid_name"),
    ({"name": " 黑金"}, "invalid_name"),
    ({"name": "金卡会员"}, "duplicate_name"),
    ({"color": "black"}, "invalid_color"),
    ({"color": "#12345"}, "invalid_color"),
    ({"color": "#GGGGGG"}, "invalid_color"),
    ({"multiplier_percent": 99}, "invalid_multiplier_percent"),
    ({"multiplier_percent": 1001}, "invalid_multiplier_percent"),
    ({"retention_threshold": 50001}, "invalid_retention_threshold"),
    ({"retention_threshold": -1}, "invalid_retention_threshold"),
    ({"growth_threshold": -5, "retention_threshold": 0}, "invalid_growth_threshold"),
    ({"level": -1}, "invalid_level"),
    ({"level": 3}, "duplicate_level"),
    ({"growth_threshold": 20000, "retention_threshold": 0}, "thresholds_not_increasing"),
    ({"growth_threshold": 15000, "retention_threshold": 0}, "thresholds_not_increasing"),
    ({"growth_threshold": 0, "retention_threshold": 0}, "thresholds_not_increasing"),
    ({"upgrade_gift_points": -1}, "invalid_upgrade_gift_points"),
    ({"benefits": [{"title": "x", "kind": "cashback"}]}, "invalid_benefits"),
    ({"benefits": [{"kind": "text"}]}, "invalid_benefits"),
    ({"benefits": [{"title": "", "kind": "text"}]}, "invalid_benefits"),
    ({"benefits": [{"title": "x", "kind": "text", "extra": 1}]}, "invalid_benefits"),
    ({"benefits": [{"title": "生日", "kind": "birthday_gift"}]}, "invalid_benefits"),
    ({"benefits": [{"title": "券", "kind": "monthly_coupons", "coupons": []}]}, "invalid_benefits"),
    (
        {"benefits": [{"title": "券", "kind": "monthly_coupons", "coupons": [{"template_id": 0}]}]},
        "invalid_benefits",
    ),
    (
        {"benefits": [{"title": "邮", "kind": "free_shipping", "min_order_fen": -1}]},
        "invalid_benefits",
    ),
    ({"benefits": ["text"]}, "invalid_benefits"),
    ({"level": "4"}, "invalid_level"),
    ({"growth_threshold": 1.5}, "invalid_growth_threshold"),
    ({"benefits": "none"}, "invalid_benefits"),
    ({"surprise": 1}, "invalid_surprise"),
]

INVALID_CHANGE = [
    ("entry", {"growth_threshold": 10}, "no_entry_tier"),
    ("entry", {"level": 5}, "no_entry_tier"),
    ("entry", {"level": 1}, "duplicate_level"),
    ("gold", {"growth_threshold": 900, "retention_threshold": 0}, "thresholds_not_increasing"),
    ("gold", {"growth_threshold": 20000}, "thresholds_not_increasing"),
    ("gold", {"level": 7}, "thresholds_not_increasing"),
    ("gold", {"retention_threshold": 5001}, "invalid_retention_threshold"),
    ("silver", {"name": "钻石会员"}, "duplicate_name"),
    ("silver", {"multiplier_percent": 1500}, "invalid_multiplier_percent"),
    ("silver", {"color": "#FFF"}, "invalid_color"),
    ("silver", {"name": None}, "invalid_name"),
    ("silver", {"benefits": None}, "invalid_benefits"),
]


class TestLadderRules:
    @pytest.mark.parametrize(("fields", "code"), INVALID_NEW)
    async def test_invalid_new_tier_is_refused(
        self,
        client: TestClient,
        staff: dict[str, str],
        ladder: dict[str, Tier],
        fields: dict[str, Any],
        code: str,
    ) -> None:
        before = await _ladder_snapshot()
        response = await client.post(BASE, json=PLATINUM | fields, headers=staff)
        assert response.status == 400, await response.text()
        assert await error_code(response) == code
        assert await _ladder_snapshot() == before
        assert not await AuditEntry.filter(action__startswith="tier.").exists()

    @pytest.mark.parametrize(("tier", "fields", "code"), INVALID_CHANGE)
    async def test_invalid_change_is_refused(
        self,
        client: TestClient,
        staff: dict[str, str],
        ladder: dict[str, Tier],
        tier: str,
        fields: dict[str, Any],
        code: str,
    ) -> None:
        before = await _ladder_snapshot()
        response = await client.patch(f"{BASE}/{ladder[tier].id}", json=fields, headers=staff)
        assert response.status == 400, await response.text()
        assert await error_code(response) == code
        assert await _ladder_snapshot() == before

    async def test_unknown_or_missing_fields_are_refused_by_the_handler(
        self, client: TestClient, ladder: dict[str, Tier]
    ) -> None:
        from handlers.operators.accounts import create_operator
        from handlers.tiers.ladder import create_tier
        from wxmember.core.errors import ValidationFailed
        from wxmember.core.models.operators import Role

        actor = await create_operator("owner-1", "correct-horse-battery", Role.OWNER)
        with pytest.raises(ValidationFailed) as unknown:
            await create_tier(actor, PLATINUM | {"stock": 1})
        assert unknown.value.code == "invalid_fields"
        with pytest.raises(ValidationFailed) as missing:
            await create_tier(actor, {"name": "黑金会员", "level": 4})
        assert missing.value.code == "invalid_growth_threshold"

    async def test_demo_ladder_keeps_the_rules(self, client: TestClient) -> None:
        from handlers.tiers.ladder import Rung, validate_ladder
        from wxmember.demo.seeds import seed_ladder

        await seed_ladder()
        validate_ladder([Rung.of(tier) for tier in await Tier.all()])
        assert await Tier.all().count() == 4


class TestUpdateTier:
    async def test_patch_changes_the_fields_given_and_is_audited(
        self, client: TestClient, staff: dict[str, str], ladder: dict[str, Tier]
    ) -> None:
        gold = ladder["gold"]
        response = await client.patch(
            f"{BASE}/{gold.id}", json={"multiplier_percent": 130}, headers=staff
        )
        assert response.status == 200
        assert (await response.json())["multiplier_percent"] == 130
        assert (await Tier.get(id=gold.id)).growth_threshold == 5000
        audit = await AuditEntry.get(action="tier.update")
        assert audit.before is not None and audit.after is not None
        assert (audit.before["multiplier_percent"], audit.after["multiplier_percent"]) == (125, 130)

    async def test_put_replaces_the_tier(
        self, client: TestClient, staff: dict[str, str], ladder: dict[str, Tier]
    ) -> None:
        body = PLATINUM | {"name": "钻石会员", "level": 3, "growth_threshold": 45000}
        response = await client.put(f"{BASE}/{ladder['diamond'].id}", json=body, headers=staff)
        assert response.status == 200, await response.text()
        tier = await Tier.get(id=ladder["diamond"].id)
        assert (tier.growth_threshold, tier.multiplier_percent, len(tier.benefits)) == (
            45000,
            200,
            5,
        )

    async def test_new_name_or_colour_redraws_the_cards_of_the_tier(
        self, client: TestClient, staff: dict[str, str], member_in: MemberIn, ladder: dict
    ) -> None:
        gold_member, silver_member = await member_in("gold"), await member_in("silver")
        await client.patch(f"{BASE}/{ladder['gold'].id}", json={"color": "#C9A227"}, headers=staff)
        await client.patch(
            f"{BASE}/{ladder['silver'].id}", json={"multiplier_percent": 115}, headers=staff
        )
        assert (await Member.get(id=gold_member.id)).card_version == gold_member.card_version + 1
        assert (await Member.get(id=silver_member.id)).card_version == silver_member.card_version

    async def test_unknown_tier_is_404(
        self, client: TestClient, staff: dict[str, str], ladder: dict
    ) -> None:
        response = await client.patch(f"{BASE}/999", json={"level": 9}, headers=staff)
        assert response.status == 404
        assert await error_code(response) == "tier_not_found"


class TestDeleteTier:
    async def test_unused_tier_is_deleted_and_audited(
        self, client: TestClient, staff: dict[str, str], ladder: dict[str, Tier]
    ) -> None:
        response = await client.delete(f"{BASE}/{ladder['diamond'].id}", headers=staff)
        assert response.status == 204
        assert not await Tier.exists(id=ladder["diamond"].id)
        audit = await AuditEntry.get(action="tier.delete")
        assert audit.before is not None and audit.before["name"] == "钻石会员"

    async def test_tier_in_use_is_not_deletable(
        self, client: TestClient, staff: dict[str, str], member_in: MemberIn, ladder: dict
    ) -> None:
        await member_in("gold")
        response = await client.delete(f"{BASE}/{ladder['gold'].id}", headers=staff)
        assert response.status == 409
        assert await error_code(response) == "tier_in_use"
        assert await Tier.exists(id=ladder["gold"].id)

    async def test_entry_tier_is_not_deletable(
        self, client: TestClient, staff: dict[str, str], ladder: dict[str, Tier]
    ) -> None:
        response = await client.delete(f"{BASE}/{ladder['entry'].id}", headers=staff)
        assert response.status == 400
        assert await error_code(response) == "no_entry_tier"

    async def test_history_survives_the_deletion(
        self, client: TestClient, staff: dict[str, str], member_in: MemberIn, ladder: dict
    ) -> None:
        member = await member_in("diamond")
        moved = await client.put(
            f"/admin/api/v1/members/{member.id}/tier",
            json={"tier_id": ladder["gold"].id},
            headers=staff,
        )
        assert moved.status == 200
        await client.delete(f"{BASE}/{ladder['diamond'].id}", headers=staff)
        change = await TierChange.get(member_id=member.id)
        assert (change.from_tier_id, change.from_name, change.to_name) == (
            None,
            "钻石会员",
            "金卡会员",
        )

    async def test_unknown_tier_is_404(
        self, client: TestClient, staff: dict[str, str], ladder: dict
    ) -> None:
        response = await client.delete(f"{BASE}/999", headers=staff)
        assert response.status == 404


class TestConcurrentEdits:
    async def test_changes_valid_alone_but_not_together_keep_the_ladder_valid(
        self, client: TestClient, staff: dict[str, str], ladder: dict[str, Tier]
    ) -> None:
        from handlers.tiers.ladder import Rung, validate_ladder

        # Each is valid against the ladder as it stands; any two together are not.
        bodies = [
            {"name": f"T{n}", "level": 4 + n, "growth_threshold": 40000 - n * 1000}
            for n in range(12)
        ]
        responses = await asyncio.gather(
            *(client.post(BASE, json=body, headers=staff) for body in bodies)
        )
        statuses = sorted(r.status for r in responses)
        assert statuses == [201] + [400] * 11
        validate_ladder([Rung.of(tier) for tier in await Tier.all()])
