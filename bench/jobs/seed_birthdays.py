"""Seeding for birthday reminders: one rule with its past years, and a million birthdays.

The rule is the demo's birthday greeting (a mini-program subscribe message with a points
gift), created through `handlers.reminders.rules.create_rule` by an owner account, as an
operator would. A rule in service has delivered every past year: `history_years` years of
deliveries (sent, skipped for want of a grant, or refused) are seeded for it, without gifts
(the gift was added to the rule this year, so the points ledger has nothing to match). The
members celebrating on the send day are counted while seeding.
"""

from __future__ import annotations

import calendar
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from bench.jobs.bulk import Loader, Record
from bench.jobs.ladder import Rung, pick_tier
from bench.jobs.people import MEMBER_COLUMNS, MemberFactory
from bench.jobs.progress import say
from handlers.operators.accounts import create_operator
from handlers.reminders.candidates import birthdays_on
from handlers.reminders.rules import RuleCreate, create_rule
from wxmember.core.models.operators import Role
from wxmember.core.models.reminders import ReminderRule
from wxmember.demo.reminders import DEMO_RULES

CHUNK = 50_000
DELIVERY_COLUMNS = tuple(
    "id rule_id member_id occasion day channel template_id page payload state reason errcode"
    " attempts next_attempt_at first_sent_at grant_spent msgid created_at updated_at"
    " finished_at".split()
)
# Outcomes of past years' reminders: (state, reason, errcode, share).
OUTCOMES = (
    ("sent", None, None, 0.6),
    ("skipped", "no_grant", None, 0.35),
    ("failed", "refused", 43101, 0.05),
)


@dataclass
class BirthdaySeed:
    """What was seeded: members, past deliveries, and how many celebrate on the send day."""

    with_birthday: int = 0
    celebrating: int = 0
    past_deliveries: int = 0
    rule_id: int = 0


async def create_birthday_rule() -> ReminderRule:
    """The demo birthday rule, created by an owner (Tortoise open)."""
    owner = await create_operator("bench-owner", "bench-owner-password-0123", Role.OWNER)
    return await create_rule(owner, RuleCreate.model_validate(DEMO_RULES[0]))


def _celebrated(birthday: date, year: int) -> date:
    """The day a birthday was celebrated in `year` (29 Feb on the 28th in common years)."""
    if (birthday.month, birthday.day) == (2, 29) and not calendar.isleap(year):
        return date(year, 2, 28)
    return birthday.replace(year=year)


class BirthdaySeeder:
    """Members, and the rule's deliveries of past years to those with a birthday."""

    def __init__(self, factory: MemberFactory, ladder: Sequence[Rung], rule: ReminderRule) -> None:
        self.factory, self.ladder, self.rule = factory, ladder, rule
        self.outcome = BirthdaySeed(rule_id=rule.id)
        self.delivery_id = 0

    async def seed(
        self, loader: Loader, members: int, day: date, history_years: int
    ) -> BirthdaySeed:
        month, days = birthdays_on(day)
        years = range(day.year - history_years, day.year)
        people: list[Record] = []
        deliveries: list[Record] = []
        factory = self.factory
        for member_id in range(1, members + 1):
            deleted, card = factory.status()
            tier_id = self.ladder[pick_tier(factory.rng, self.ladder)].id if card else None
            birthday = factory.birthday()
            person = factory.record(member_id, tier_id=tier_id, deleted=deleted, birthday=birthday)
            people.append(person)
            if birthday is not None and not deleted:
                self.outcome.with_birthday += 1
                self.outcome.celebrating += birthday.month == month and birthday.day in days
                deliveries += [self._past(member_id, _celebrated(birthday, y)) for y in years]
            if len(people) >= CHUNK or member_id == members:
                await loader.copy("members", MEMBER_COLUMNS, people)
                await loader.copy("reminder_deliveries", DELIVERY_COLUMNS, deliveries)
                self.outcome.past_deliveries += len(deliveries)
                people, deliveries = [], []
                if member_id % (4 * CHUNK) == 0:
                    say(f"  {member_id:,} members seeded")
        return self.outcome

    def _past(self, member_id: int, day: date) -> Record:
        rng, rule = self.factory.rng, self.rule
        self.delivery_id += 1
        state, reason, errcode, _ = rng.choices(OUTCOMES, weights=[o[3] for o in OUTCOMES])[0]
        tried = state != "skipped"
        claimed = datetime.combine(day, time(0, 1), tzinfo=UTC) - timedelta(hours=8)
        done = claimed + timedelta(seconds=rng.randrange(1, 3600))
        text = {
            "name1": "会员",
            "date2": f"{day.year}年{day.month}月{day.day}日",
            "phrase4": "生日快乐",
        }
        payload = json.dumps(text, ensure_ascii=False)
        msgid = str(rng.randrange(10**15, 10**16)) if state == "sent" else None
        what = (rule.id, member_id, f"birthday:{day.year}", day, rule.channel, rule.template_id)
        outcome = (rule.page, payload, state, reason, errcode, int(tried), claimed)
        sending = (done if tried else None, tried, msgid, claimed, done, done)
        return (self.delivery_id, *what, *outcome, *sending)
