"""Member rows for COPY: the columns of `members` and a factory of plausible members.

Every NOT NULL column is given (the schema has no server-side defaults: Tortoise fills them in
Python). Deleted members have their personal fields wiped and keep their row, as on account
deletion. Birthdays are drawn uniformly from 1960..2008, so 29 February appears at its natural
rate.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from handlers.members.numbers import luhn_check_digit

MEMBER_COLUMNS = (
    "id",
    "openid",
    "unionid",
    "official_openid",
    "token_version",
    "name",
    "gender",
    "birthday",
    "birth_month",
    "birth_day",
    "birthday_changes",
    "card_no",
    "card_opened_at",
    "card_version",
    "tier_id",
    "points_balance",
    "points_debt",
    "growth_total",
    "created_at",
    "updated_at",
    "deleted_at",
)

_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
_GIVEN = (
    "伟",
    "芳",
    "娜",
    "敏",
    "静",
    "磊",
    "洋",
    "艳",
    "勇",
    "杰",
    "娟",
    "涛",
    "明",
    "超",
    "秀英",
)
_FIRST_BIRTHDAY = date(1960, 1, 1)
_BIRTHDAY_SPAN = (date(2008, 12, 31) - _FIRST_BIRTHDAY).days + 1
JOINED_FROM = datetime(2022, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Shares:
    """How the population is made up (fractions of all members)."""

    no_card: float = 0.08
    deleted: float = 0.005
    no_birthday: float = 0.15
    official_follower: float = 0.4


def card_number(member_id: int) -> str:
    """A valid 16-digit card number unique to the member id."""
    body = f"8{member_id:014d}"
    return body + luhn_check_digit(body)


class MemberFactory:
    """Builds member records; deterministic for a given random generator."""

    def __init__(self, rng: random.Random, now: datetime, shares: Shares = Shares()) -> None:
        self.rng = rng
        self.now = now
        self.shares = shares
        self._joined_span = int((now - JOINED_FROM).total_seconds())

    def status(self) -> tuple[bool, bool]:
        """Whether the next member is deleted, and whether they hold a card."""
        deleted = self.rng.random() < self.shares.deleted
        return deleted, deleted or self.rng.random() >= self.shares.no_card

    def birthday(self) -> date | None:
        if self.rng.random() < self.shares.no_birthday:
            return None
        return _FIRST_BIRTHDAY + timedelta(days=self.rng.randrange(_BIRTHDAY_SPAN))

    def record(
        self,
        member_id: int,
        *,
        tier_id: int | None,
        deleted: bool = False,
        birthday: date | None = None,
        points_balance: int = 0,
        growth_total: int = 0,
    ) -> tuple[object, ...]:
        """One row in MEMBER_COLUMNS order."""
        rng = self.rng
        joined = JOINED_FROM + timedelta(seconds=rng.randrange(self._joined_span))
        alive = not deleted
        follower = alive and rng.random() < self.shares.official_follower
        name = rng.choice(_SURNAMES) + rng.choice(_GIVEN) if alive else None
        birthday = birthday if alive else None
        return (
            member_id,
            f"o-bench-{member_id:09d}" if alive else None,
            f"u-bench-{member_id:09d}" if follower else None,
            f"oa-bench-{member_id:09d}" if follower else None,
            1,
            name,
            rng.choice(("male", "female", "undisclosed")) if alive else None,
            birthday,
            birthday.month if birthday else None,
            birthday.day if birthday else None,
            0,
            card_number(member_id) if tier_id is not None else None,
            joined if tier_id is not None else None,
            1,
            tier_id,
            points_balance,
            0,
            growth_total,
            joined,
            self.now,
            self.now if deleted else None,
        )
