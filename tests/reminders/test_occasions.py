"""Who a rule reminds on a day: birthdays, 29 February, time zones, points and coupon expiry.

Seen through the preview endpoint (nothing is sent) and the scheduler's minute run.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from handlers import points
from handlers.reminders.runs import run_due_reminders
from tests.reminders.kit import MemberMaker, RuleMaker, coupon_template, give_coupon
from tests.support.localtime import local
from wxmember.core.clock import FrozenClock
from wxmember.core.context import Services
from wxmember.core.fake_wechat import FakeWeChat
from wxmember.core.models.coupons import CouponStatus


@pytest.fixture
async def staff(login_as: Any) -> dict[str, str]:
    return await login_as("operator", "op-preview")


async def previewed(
    client: TestClient, headers: dict[str, str], rule_id: int, day: str
) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = ""
    while True:
        url = f"/admin/api/v1/reminder-rules/{rule_id}/preview?date={day}&limit=2&cursor={cursor}"
        response = await client.get(url, headers=headers)
        assert response.status == 200, await response.text()
        body = await response.json()
        items += body["items"]
        if body["next_cursor"] is None:
            return items
        cursor = body["next_cursor"]


class TestBirthdays:
    async def test_on_the_day(
        self,
        client: TestClient,
        staff: dict[str, str],
        clock: FrozenClock,
        new_rule: RuleMaker,
        new_member: MemberMaker,
    ) -> None:
        rule = await new_rule("birthday")
        today = [await new_member(date(1990 + n, 5, 17)) for n in range(3)]
        await new_member(date(1990, 5, 18))
        await new_member(date(1990, 6, 17))
        await new_member(None)
        items = await previewed(client, staff, rule.id, "2026-05-17")
        assert [item["member_id"] for item in items] == [m.id for m in today]
        assert {item["occasion"] for item in items} == {"birthday:2026"}
        assert items[0]["data"] == {
            "name1": "张三",
            "date2": "2026年5月17日",
            "phrase3": "生日快乐",
        }

    async def test_days_before(
        self,
        client: TestClient,
        staff: dict[str, str],
        clock: FrozenClock,
        new_rule: RuleMaker,
        new_member: MemberMaker,
    ) -> None:
        rule = await new_rule("birthday", days_before=7)
        ahead = await new_member(date(1985, 5, 24))
        await new_member(date(1985, 5, 17))
        items = await previewed(client, staff, rule.id, "2026-05-17")
        assert [item["member_id"] for item in items] == [ahead.id]
        assert items[0]["target_day"] == "2026-05-24"

    async def test_days_before_across_the_new_year(
        self,
        client: TestClient,
        staff: dict[str, str],
        clock: FrozenClock,
        new_rule: RuleMaker,
        new_member: MemberMaker,
    ) -> None:
        rule = await new_rule("birthday", days_before=3)
        member = await new_member(date(2000, 1, 2))
        items = await previewed(client, staff, rule.id, "2026-12-30")
        assert [(i["member_id"], i["occasion"]) for i in items] == [(member.id, "birthday:2027")]

    @pytest.mark.parametrize(
        ("day", "expected"),
        [
            ("2026-02-28", {"feb28", "feb29"}),  # common year: 29 Feb joins 28 Feb
            ("2026-03-01", {"mar1"}),
            ("2028-02-28", {"feb28"}),  # leap year: each on their own day
            ("2028-02-29", {"feb29"}),
        ],
    )
    async def test_29_february(
        self,
        client: TestClient,
        staff: dict[str, str],
        clock: FrozenClock,
        new_rule: RuleMaker,
        new_member: MemberMaker,
        day: str,
        expected: set[str],
    ) -> None:
        rule = await new_rule("birthday")
        members = {
            "feb28": await new_member(date(1990, 2, 28)),
            "feb29": await new_member(date(1992, 2, 29)),
            "mar1": await new_member(date(1990, 3, 1)),
        }
        items = await previewed(client, staff, rule.id, day)
        found = {name for name, m in members.items() if m.id in {i["member_id"] for i in items}}
        assert found == expected

    async def test_29_february_member_is_greeted_once_in_a_common_year(
        self,
        services: Services,
        clock: FrozenClock,
        new_rule: RuleMaker,
        new_member: MemberMaker,
        fake_wechat: FakeWeChat,
    ) -> None:
        await new_rule("birthday")
        member = await new_member(date(1992, 2, 29), grants={"tpl-birthday": 5})
        for day in (27, 28):
            clock.set(local(2026, 2, day, 9, 0))
            await run_due_reminders(services)
        clock.set(local(2026, 3, 1, 9, 0))
        await run_due_reminders(services)
        assert [(m.touser, m.data["date2"]) for m in fake_wechat.sent] == [
            (member.openid, "2026年2月28日")
        ]

    async def test_local_day_not_utc_day(
        self,
        services: Services,
        clock: FrozenClock,
        new_rule: RuleMaker,
        new_member: MemberMaker,
        fake_wechat: FakeWeChat,
    ) -> None:
        """00:30 on 17 May in Shanghai is still 16 May in UTC: the 17 May birthdays are due."""
        await new_rule("birthday", send_time="00:00")
        may16 = await new_member(date(1990, 5, 16), grants={"tpl-birthday": 1})
        may17 = await new_member(date(1990, 5, 17), grants={"tpl-birthday": 1})
        clock.set(local(2026, 5, 17, 0, 30))
        assert clock.now().date() == date(2026, 5, 16)
        await run_due_reminders(services)
        assert [m.touser for m in fake_wechat.sent] == [may17.openid]
        assert may16.openid not in {m.touser for m in fake_wechat.sent}

    async def test_not_before_the_send_time(
        self,
        services: Services,
        clock: FrozenClock,
        new_rule: RuleMaker,
        new_member: MemberMaker,
        fake_wechat: FakeWeChat,
    ) -> None:
        await new_rule("birthday", send_time="09:30")
        await new_member(date(1990, 5, 17), grants={"tpl-birthday": 1})
        clock.set(local(2026, 5, 17, 9, 29))
        await run_due_reminders(services)
        assert fake_wechat.sent == []
        clock.set(local(2026, 5, 17, 9, 30))
        await run_due_reminders(services)
        assert len(fake_wechat.sent) == 1


class TestPointsExpiring:
    async def test_lots_expiring_on_the_target_local_day(
        self,
        client: TestClient,
        services: Services,
        staff: dict[str, str],
        clock: FrozenClock,
        new_rule: RuleMaker,
        new_member: MemberMaker,
    ) -> None:
        rule = await new_rule("points_expiring", days_before=7)
        # 2026-05-24 is the target day (17 May + 7)
        first, second, late, early = [await new_member() for _ in range(4)]
        for member, amount, expires in [
            (first, 100, local(2026, 5, 24, 23, 59, 59)),
            (first, 50, local(2026, 5, 24, 0, 0, 0)),
            (second, 30, local(2026, 5, 24, 12, 0)),
            (late, 40, local(2026, 5, 25, 0, 0, 0)),  # the 25th
            (early, 60, local(2026, 5, 23, 23, 59, 59)),  # the 23rd
        ]:
            await points.earn(
                services,
                member.id,
                amount,
                reason="test",
                idempotency_key=f"k-{member.id}-{amount}",
                expires_at=expires,
            )
        items = await previewed(client, staff, rule.id, "2026-05-17")
        assert [(i["member_id"], i["data"]["number2"]) for i in items] == [
            (first.id, "150"),
            (second.id, "30"),
        ]
        assert items[0]["occasion"] == "points:2026-05-24"
        assert items[0]["data"]["date3"] == "2026年5月24日"

    async def test_spent_lots_are_not_reminded(
        self,
        client: TestClient,
        services: Services,
        staff: dict[str, str],
        clock: FrozenClock,
        new_rule: RuleMaker,
        new_member: MemberMaker,
    ) -> None:
        rule = await new_rule("points_expiring", days_before=7)
        member = await new_member()
        expires = local(2026, 5, 24, 23, 59, 59)
        await points.earn(
            services, member.id, 80, reason="test", idempotency_key="e1", expires_at=expires
        )
        await points.spend(services, member.id, 80, reason="test", idempotency_key="s1")
        assert await previewed(client, staff, rule.id, "2026-05-17") == []


class TestCouponsExpiring:
    async def test_unused_coupons_ending_the_target_local_day(
        self,
        client: TestClient,
        staff: dict[str, str],
        clock: FrozenClock,
        new_rule: RuleMaker,
        new_member: MemberMaker,
    ) -> None:
        rule = await new_rule("coupon_expiring", days_before=3)
        template = await coupon_template("周末特惠券")
        member = await new_member()
        # usable until the end of 20 May (valid_until is exclusive: local midnight of the 21st)
        due = await give_coupon(member, template, local(2026, 5, 21, 0, 0))
        also_due = await give_coupon(member, template, local(2026, 5, 20, 18, 0))
        await give_coupon(member, template, local(2026, 5, 20, 0, 0))  # ends the 19th
        await give_coupon(member, template, local(2026, 5, 21, 0, 0, 1))  # into the 21st
        used = await give_coupon(member, template, local(2026, 5, 21, 0, 0))
        used.status = CouponStatus.USED
        await used.save()
        items = await previewed(client, staff, rule.id, "2026-05-17")
        assert [i["occasion"] for i in items] == [f"coupon:{due.id}", f"coupon:{also_due.id}"]
        assert items[0]["data"]["thing1"] == "周末特惠券"
        assert items[0]["data"]["date2"] == "2026年5月20日"
        assert items[0]["data"]["character_string3"] == "-".join(
            [due.code[:4], due.code[4:8], due.code[8:]]
        )

    async def test_time_zone_edge_of_the_day(
        self,
        client: TestClient,
        staff: dict[str, str],
        clock: FrozenClock,
        new_rule: RuleMaker,
        new_member: MemberMaker,
    ) -> None:
        """A coupon ending 16:00 UTC on the 20th ends the local 21st's first instant: the 20th."""
        rule = await new_rule("coupon_expiring", days_before=3)
        template = await coupon_template()
        member = await new_member()
        edge = local(2026, 5, 21, 0, 0)
        inside = await give_coupon(member, template, edge)
        await give_coupon(member, template, edge + timedelta(seconds=1))
        items = await previewed(client, staff, rule.id, "2026-05-17")
        assert [i["cursor"] for i in items] == [inside.id]
