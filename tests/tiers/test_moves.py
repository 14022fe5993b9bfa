"""Operators moving members between tiers, the tier history and the evaluation runs."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from handlers.tiers.growth import evaluate_tiers
from tests.factories import create_member
from tests.support.http import error_code
from tests.tiers.conftest import NOW, MemberIn
from wxmember.core.clock import FrozenClock
from wxmember.core.context import Services
from wxmember.core.models.members import Member
from wxmember.core.models.operators import AuditEntry, Operator
from wxmember.core.models.tier_history import TierChange
from wxmember.core.models.tiers import Tier

pytestmark = pytest.mark.usefixtures("clock")


@pytest.fixture
async def staff(login_as: Any) -> dict[str, str]:
    return await login_as("operator")


def _move_path(member_id: int) -> str:
    return f"/admin/api/v1/members/{member_id}/tier"


class TestMoveMember:
    @pytest.mark.parametrize(("start", "target"), [("entry", "gold"), ("diamond", "silver")])
    async def test_move_is_recorded_audited_and_redraws_the_card(
        self,
        client: TestClient,
        staff: dict[str, str],
        member_in: MemberIn,
        ladder: dict[str, Tier],
        start: str,
        target: str,
    ) -> None:
        member = await member_in(start)
        response = await client.put(
            _move_path(member.id),
            json={"tier_id": ladder[target].id, "note": "门店补录"},
            headers=staff,
        )
        assert response.status == 200, await response.text()
        body = await response.json()
        assert (body["reason"], body["to_tier"], body["note"]) == (
            "operator",
            ladder[target].name,
            "门店补录",
        )
        assert body["created_at"] == NOW.isoformat()
        stored = await Member.get(id=member.id)
        assert stored.tier_id == ladder[target].id
        assert stored.card_version == member.card_version + 1
        audit = await AuditEntry.get(action="member.tier_move")
        assert audit.target_id == str(member.id)
        assert audit.before == {"tier_id": ladder[start].id, "tier": ladder[start].name}
        operator = await Operator.get(username="operator-user")
        assert (await TierChange.get(member_id=member.id)).operator_id == operator.id

    async def test_already_in_the_tier_is_409(
        self, client: TestClient, staff: dict[str, str], member_in: MemberIn, ladder: dict
    ) -> None:
        member = await member_in("gold")
        response = await client.put(
            _move_path(member.id), json={"tier_id": ladder["gold"].id}, headers=staff
        )
        assert response.status == 409
        assert await error_code(response) == "already_in_tier"

    async def test_unknown_member_or_tier_is_404(
        self, client: TestClient, staff: dict[str, str], member_in: MemberIn, ladder: dict
    ) -> None:
        member = await member_in()
        for member_id, tier_id, code in [
            (999, ladder["gold"].id, "member_not_found"),
            (member.id, 999, "tier_not_found"),
        ]:
            response = await client.put(
                _move_path(member_id), json={"tier_id": tier_id}, headers=staff
            )
            assert response.status == 404
            assert await error_code(response) == code

    async def test_a_member_without_a_card_is_409_card_required(
        self, client: TestClient, staff: dict[str, str], ladder: dict
    ) -> None:
        no_card = await create_member(with_card=False)
        response = await client.put(
            _move_path(no_card.id), json={"tier_id": ladder["gold"].id}, headers=staff
        )
        assert response.status == 409
        assert await error_code(response) == "card_required"

    @pytest.mark.parametrize(
        ("body", "code"),
        [
            ({}, "invalid_tier_id"),
            ({"tier_id": "2"}, "invalid_tier_id"),
            ({"tier_id": 0}, "invalid_tier_id"),
            ({"tier_id": 2, "note": "x" * 201}, "invalid_note"),
            ({"tier_id": 2, "why": "x"}, "invalid_why"),
        ],
    )
    async def test_bad_body_is_400(
        self,
        client: TestClient,
        staff: dict[str, str],
        member_in: MemberIn,
        body: dict[str, Any],
        code: str,
    ) -> None:
        member = await member_in()
        response = await client.put(_move_path(member.id), json=body, headers=staff)
        assert response.status == 400
        assert await error_code(response) == code


class TestHistory:
    async def test_tier_changes_by_member_newest_first_in_pages(
        self, client: TestClient, staff: dict[str, str], member_in: MemberIn, ladder: dict
    ) -> None:
        member, other = await member_in(), await member_in()
        for target in ("silver", "gold", "diamond"):
            await client.put(
                _move_path(member.id), json={"tier_id": ladder[target].id}, headers=staff
            )
        await client.put(_move_path(other.id), json={"tier_id": ladder["gold"].id}, headers=staff)
        url = f"/admin/api/v1/tier-changes?member_id={member.id}&limit=2"
        first = await (await client.get(url, headers=staff)).json()
        assert [c["to_tier"] for c in first["items"]] == ["钻石会员", "金卡会员"]
        url += f"&cursor={first['next_cursor']}"
        second = await (await client.get(url, headers=staff)).json()
        assert [c["to_tier"] for c in second["items"]] == ["银卡会员"]
        assert second["next_cursor"] is None
        everyone = await (await client.get("/admin/api/v1/tier-changes", headers=staff)).json()
        assert len(everyone["items"]) == 4

    @pytest.mark.parametrize(
        ("query", "code"), [("member_id=abc", "invalid_member_id"), ("cursor=zz", "invalid_cursor")]
    )
    async def test_bad_query_is_400(
        self, client: TestClient, staff: dict[str, str], query: str, code: str
    ) -> None:
        response = await client.get(f"/admin/api/v1/tier-changes?{query}", headers=staff)
        assert response.status == 400
        assert await error_code(response) == code

    async def test_evaluation_runs(
        self,
        client: TestClient,
        services: Services,
        clock: FrozenClock,
        staff: dict[str, str],
        member_in: MemberIn,
    ) -> None:
        await member_in("gold")
        clock.advance(days=200)
        await evaluate_tiers(services)
        response = await client.get("/admin/api/v1/tier-evaluations", headers=staff)
        (run,) = (await response.json())["items"]
        assert (run["period_key"], run["status"], run["checked"], run["downgraded"]) == (
            "calendar_year:2025-12-31",
            "finished",
            1,
            1,
        )
