"""A member's coupons are read through the member's index, never by scanning everyone's.

SQLite plans without statistics. When the only index covering a member question's status and
validity was (status, valid_until), it read every unused coupon of every member to answer one
member. The statements a member's list and the coupon centre really send are recorded here and
planned by SQLite itself. PostgreSQL plans by its statistics, so these run on SQLite only.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from tortoise import connections

from handlers.coupons.claims import coupon_centre
from handlers.coupons.issuing import member_coupons
from tests.coupons.conftest import MemberMaker, TemplateMaker
from tests.support.settings import PG_URL
from wxmember.core.clock import FrozenClock
from wxmember.core.context import Services
from wxmember.core.models.coupons import CouponStatus

pytestmark = pytest.mark.skipif(bool(PG_URL), reason="PostgreSQL plans by its statistics")

Sent = list[tuple[str, Any]]


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch, services: Services) -> Iterator[Sent]:
    """Every statement the database connection is given, with its parameters (those it reads
    at once by its reader too)."""
    client = type(connections.get("default"))
    execute, read_now = client.execute_query, client.read_now
    statements: Sent = []

    async def recording(self: Any, query: str, values: Any = None) -> Any:
        statements.append((query, values))
        return await execute(self, query, values)

    def reading(self: Any, query: str, values: Any) -> Any:
        statements.append((query, values))
        return read_now(self, query, values)

    monkeypatch.setattr(client, "execute_query", recording)
    monkeypatch.setattr(client, "read_now", reading)
    yield statements


async def coupon_plans(statements: Sent) -> list[str]:
    """SQLite's plan lines for the coupons table, over the statements that read it."""
    conn = connections.get("default")
    lines: list[str] = []
    for query, values in list(statements):  # the plans asked for here are recorded too
        if 'FROM "coupons"' in query and not query.startswith("EXPLAIN"):
            _, rows = await conn.execute_query("EXPLAIN QUERY PLAN " + query, values)
            lines += [row[3] for row in rows if " coupons " in f" {row[3]} "]
    return lines


def by_member(lines: list[str]) -> bool:
    return bool(lines) and all("(member_id=?" in line for line in lines if "coupons" in line)


class TestPlans:
    async def test_a_members_unused_coupons(
        self,
        services: Services,
        clock: FrozenClock,
        new_member: MemberMaker,
        sent: Sent,
    ) -> None:
        member, _ = await new_member()
        await member_coupons(services, member.id, CouponStatus.UNUSED, None, 20)
        assert by_member(await coupon_plans(sent)), await coupon_plans(sent)

    async def test_the_coupon_centres_counts(
        self,
        services: Services,
        clock: FrozenClock,
        new_template: TemplateMaker,
        new_member: MemberMaker,
        sent: Sent,
    ) -> None:
        await new_template(per_member_limit=2)
        member, _ = await new_member()
        await coupon_centre(services, member, None, 20)
        assert by_member(await coupon_plans(sent)), await coupon_plans(sent)
