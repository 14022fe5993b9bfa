"""What the console counts of reminders: a rule's reach on a day, and deliveries per day."""

from __future__ import annotations

from datetime import date

import pytest

from handlers import points
from handlers.reminders.candidates import Reach, count_candidates, find_candidates
from handlers.reminders.reports import daily_counts
from handlers.reminders.runs import run_due_reminders
from tests.reminders.kit import MemberMaker, RuleMaker, coupon_template, give_coupon
from tests.support.localtime import local
from wxmember.core.clock import FrozenClock
from wxmember.core.context import Services
from wxmember.core.errors import ValidationFailed
from wxmember.core.models import Member

MAY_17 = date(2026, 5, 17)


class TestCountCandidates:
    async def test_birthdays_count_what_the_preview_lists(
        self, services: Services, clock: FrozenClock, new_rule: RuleMaker, new_member: MemberMaker
    ) -> None:
        rule = await new_rule("birthday")
        for year in (1990, 1991, 1992):
            await new_member(date(year, 5, 17))
        gone = await new_member(date(1993, 5, 17))
        await Member.filter(id=gone.id).update(deleted_at=clock.now())
        await new_member(date(1990, 5, 18))
        found, _ = await find_candidates(services, rule, MAY_17, 0, 100)
        assert (
            await count_candidates(services, rule, MAY_17)
            == Reach(3, 3)
            == Reach(len(found), len(found))
        )

    async def test_29_february_joins_28_february_in_a_common_year(
        self, services: Services, clock: FrozenClock, new_rule: RuleMaker, new_member: MemberMaker
    ) -> None:
        rule = await new_rule("birthday")
        await new_member(date(1990, 2, 28))
        await new_member(date(1992, 2, 29))
        assert await count_candidates(services, rule, date(2026, 2, 28)) == Reach(2, 2)
        assert await count_candidates(services, rule, date(2028, 2, 28)) == Reach(1, 1)

    async def test_points_count_members_once(
        self, services: Services, clock: FrozenClock, new_rule: RuleMaker, new_member: MemberMaker
    ) -> None:
        rule = await new_rule("points_expiring", days_before=7)
        first, second, later = [await new_member() for _ in range(3)]
        for n, (member, expires) in enumerate(
            [
                (first, local(2026, 5, 24, 23, 59, 59)),
                (first, local(2026, 5, 24, 8, 0)),
                (second, local(2026, 5, 24, 12, 0)),
                (later, local(2026, 5, 25, 0, 0)),
            ]
        ):
            await points.earn(
                services, member.id, 10, reason="test", idempotency_key=f"r{n}", expires_at=expires
            )
        assert await count_candidates(services, rule, MAY_17) == Reach(2, 2)

    async def test_coupons_count_each_coupon_and_each_member(
        self, services: Services, clock: FrozenClock, new_rule: RuleMaker, new_member: MemberMaker
    ) -> None:
        rule = await new_rule("coupon_expiring", days_before=3)
        template = await coupon_template()
        one, two = await new_member(), await new_member()
        for member in (one, one, two):
            await give_coupon(member, template, local(2026, 5, 21, 0, 0))
        await give_coupon(two, template, local(2026, 5, 22, 0, 0))  # ends the 21st
        assert await count_candidates(services, rule, MAY_17) == Reach(3, 2)


class TestDailyCounts:
    async def test_each_day_of_the_range_by_state(
        self, services: Services, clock: FrozenClock, new_rule: RuleMaker, new_member: MemberMaker
    ) -> None:
        birthday = await new_rule("birthday")
        other = await new_rule("birthday", name="提前一周", days_before=7, template_id="tpl-week")
        await new_member(date(1990, 5, 17), grants={"tpl-birthday": 1})
        await new_member(date(1991, 5, 17))
        await new_member(date(1992, 5, 24), grants={"tpl-week": 1})
        await run_due_reminders(services)
        days = await daily_counts(date(2026, 5, 15), MAY_17)
        assert [day["day"] for day in days] == ["2026-05-15", "2026-05-16", "2026-05-17"]
        assert days[0]["total"] == days[1]["total"] == 0
        assert days[2]["counts"] == {
            "claimed": 0,
            "sending": 0,
            "sent": 2,
            "skipped": 1,
            "failed": 0,
        }
        only = await daily_counts(MAY_17, MAY_17, rule_id=other.id)
        assert only[0]["counts"]["sent"] == 1 and only[0]["total"] == 1
        assert (await daily_counts(MAY_17, MAY_17, rule_id=birthday.id))[0]["total"] == 2

    @pytest.mark.parametrize(
        ("first", "last"), [(date(2026, 5, 18), MAY_17), (date(2026, 1, 1), date(2026, 5, 17))]
    )
    async def test_a_backward_or_too_long_range_is_refused(
        self, client: object, first: date, last: date
    ) -> None:
        with pytest.raises(ValidationFailed) as refused:
            await daily_counts(first, last)
        assert refused.value.code == "invalid_range"
