"""Daily check-in: once per member per local day, with streak bonuses, and make-ups.

The day is the brand's local day (`config.brand.timezone`), never the server's. A database
unique constraint on (member, day) decides a race; every check-in write also locks the member
row first, so a make-up that repairs a streak and a check-in never read each other's rows half
written.

Streaks are stored per row (`Checkin.streak`, the run of consecutive days ending that day).
A check-in takes yesterday's streak + 1. A make-up fills a missed day of the current month:
its streak is the day before's + 1, and the run of days that follows it (up to today, so at
most a month of rows) gets that streak added in one UPDATE, so the runs join. Bonuses already
granted stay as they were; a made-up day earns the base points of the rules of that day and no
streak bonus.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, timedelta
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from handlers import points
from handlers.checkin.month import current_streak, month_bounds
from handlers.checkin.rules import CheckinRules, rules_for, rules_in_force
from handlers.tiers.growth import add_growth
from wxmember.core.context import Services
from wxmember.core.errors import AlreadyCheckedIn, Conflict, ValidationFailed
from wxmember.core.kernel import LockedMember, lock_member
from wxmember.core.localtime import local_today
from wxmember.core.models import Member
from wxmember.core.models.checkins import Checkin
from wxmember.core.prepared import InsertRow, partition_key, placeholders

__all__ = ["CheckinResult", "MakeupResult", "check_in", "checkin_growth", "make_up"]


@dataclass(frozen=True)
class Tomorrow:
    date: date
    streak: int
    points: int
    bonus_points: int


@dataclass(frozen=True)
class CheckinResult:
    """A day's check-in: what it earned, the streak it made, and what tomorrow would bring."""

    day: date
    points: int
    base_points: int
    bonus_points: int
    streak: int
    cycle_day: int
    made_up: bool
    balance: int
    tomorrow: Tomorrow | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {
            "day": self.day.isoformat(),
            "tomorrow": _tomorrow_dict(self.tomorrow),
        }


@dataclass(frozen=True)
class MakeupResult:
    """A made-up day, the price paid, and the member's standing after it."""

    checkin: CheckinResult
    price_points: int
    current_streak: int
    makeup_left: int

    def to_dict(self) -> dict[str, Any]:
        return self.checkin.to_dict() | {
            "price_points": self.price_points,
            "current_streak": self.current_streak,
            "makeup_left": self.makeup_left,
        }


def _tomorrow_dict(tomorrow: Tomorrow | None) -> dict[str, Any] | None:
    if tomorrow is None:
        return None
    return asdict(tomorrow) | {"date": tomorrow.date.isoformat()}


async def _result(
    services: Services, row: Checkin, balance: int, today: date, rules: CheckinRules | None = None
) -> CheckinResult:
    """The result of a day's row; `rules` are that day's, if the caller has them already."""
    rules = rules or await rules_in_force(services, row.day)
    tomorrow = None
    if row.day == today:
        next_day = row.day + timedelta(days=1)
        next_rules = await rules_in_force(services, next_day)
        bonus = next_rules.bonus_for(row.streak + 1)
        tomorrow = Tomorrow(
            date=next_day,
            streak=row.streak + 1,
            points=next_rules.base_points + bonus if next_rules.enabled else 0,
            bonus_points=bonus if next_rules.enabled else 0,
        )
    return CheckinResult(
        day=row.day,
        points=row.points,
        base_points=row.points - row.bonus_points,
        bonus_points=row.bonus_points,
        streak=row.streak,
        cycle_day=rules.cycle_day(row.streak),
        made_up=row.made_up,
        balance=balance,
        tomorrow=tomorrow,
    )


async def _already_checked_in(
    services: Services, row: Checkin, balance: int, rules: CheckinRules
) -> AlreadyCheckedIn:
    """409 with the day's result, so a client that lost the first answer still shows it."""
    result = await _result(services, row, balance, row.day, rules)
    return AlreadyCheckedIn("You have checked in today already.", details=result.to_dict())


async def _already_checked_in_today(services: Services, member_id: int) -> AlreadyCheckedIn:
    """`_already_checked_in`, read afresh (after losing a race to insert today's row)."""
    today = local_today(services)
    row = await Checkin.get(member_id=member_id, day=today)
    member = await Member.get(id=member_id).only("id", "points_balance")
    rules = await rules_in_force(services, today)
    return await _already_checked_in(services, row, member.points_balance, rules)


def checkin_growth(services: Services, rules: CheckinRules) -> int:
    """Growth a check-in adds: `tiers.checkin_growth` from config, when the rules allow it."""
    tiers = getattr(services.config, "tiers", None)
    return int(getattr(tiers, "checkin_growth", 0)) if rules.adds_growth else 0


async def _reward(
    services: Services,
    account: LockedMember,
    day: date,
    amount: int,
    rules: CheckinRules,
    reason: str,
) -> None:
    key = f"checkin:{account.id}:{day.isoformat()}"
    reference = f"checkin:{day.isoformat()}"
    if amount > 0:
        await points.earn(
            services, account, amount, reason=reason, idempotency_key=key, reference=reference
        )
    growth = checkin_growth(services, rules)
    if growth:
        await add_growth(
            services, account, growth, reason=reason, idempotency_key=key, reference=reference
        )


_INSERT_CHECKIN = InsertRow(Checkin)
_DAYS = """
SELECT {columns} FROM "checkins" WHERE "member_id" = $1 AND "day" IN ({first}, {second})
"""


async def _days(
    conn: BaseDBAsyncClient, member_id: int, first: date, second: date
) -> list[Checkin]:
    """The member's rows of two days, by one fixed statement (the check-in's hot read)."""
    columns = sorted(Checkin._meta.db_fields)
    first_sql, first_value = partition_key(conn, Checkin, "day", first, 2)
    second_sql, second_value = partition_key(conn, Checkin, "day", second, 3)
    listed = ", ".join(f'"{c}"' for c in columns)
    sql = placeholders(conn, _DAYS.format(columns=listed, first=first_sql, second=second_sql))
    _, rows = await conn.execute_query(sql, [member_id, first_value, second_value])
    return [Checkin._init_from_db(**dict(zip(columns, row, strict=True))) for row in rows]


async def check_in(services: Services, member: Member) -> CheckinResult:
    """Check in for today (local day); 409 `already_checked_in` with today's result in details.

    Under the member's lock, one read finds today's row (a repeat) and yesterday's (the streak).
    """
    member.require_card()
    now = services.clock.now()
    today = local_today(services)
    yesterday = today - timedelta(days=1)
    rules = await rules_in_force(services, today)
    if not rules.enabled:
        raise Conflict("Check-in is paused.", code="checkin_disabled")
    try:
        async with in_transaction() as conn:
            account = await lock_member(conn, member.id)
            days = {row.day: row for row in await _days(conn, member.id, today, yesterday)}
            if today in days:
                raise await _already_checked_in(
                    services, days[today], account.row.points_balance, rules
                )
            previous = days.get(yesterday)
            streak = previous.streak + 1 if previous is not None else 1
            bonus = rules.bonus_for(streak)
            row = await _INSERT_CHECKIN.insert(
                conn,
                member_id=member.id,
                day=today,
                streak=streak,
                points=rules.base_points + bonus,
                bonus_points=bonus,
                created_at=now,
            )
            if row is None:  # a plain insert answers its row or raises
                raise RuntimeError("the check-in row was not written")
            await _reward(services, account, today, row.points, rules, "checkin")
    except IntegrityError:
        raise await _already_checked_in_today(services, member.id) from None
    return await _result(services, row, account.row.points_balance, today, rules)


def _check_makeup_day(services: Services, member: Member, day: date, today: date) -> None:
    if day > today:
        raise ValidationFailed("That day has not come yet.", code="makeup_future_day")
    if day == today:
        raise Conflict("Check in for today instead.", code="makeup_today")
    if (day.year, day.month) != (today.year, today.month):
        raise Conflict("Only days of this month can be made up.", code="makeup_other_month")
    if member.card_opened_at is not None:
        opened = member.card_opened_at.astimezone(services.config.brand.tz).date()
        if day < opened:
            raise Conflict("That day is before your card was opened.", code="makeup_before_card")


async def make_up(services: Services, member: Member, day: date) -> MakeupResult:
    """Check in for a missed earlier day of this month: limited per month, maybe priced."""
    member.require_card()
    now = services.clock.now()
    today = local_today(services)
    _check_makeup_day(services, member, day, today)
    rules = await rules_in_force(services, today)
    if not rules.enabled:
        raise Conflict("Check-in is paused.", code="checkin_disabled")
    price = rules.makeup_price_points
    try:
        async with in_transaction() as conn:
            account = await lock_member(conn, member.id)
            month = await (
                Checkin.filter(member_id=member.id, day__gte=month_bounds(today)[0])
                .using_db(conn)
                .values_list("day", "made_up", "streak")
            )
            streaks = {row_day: streak for row_day, _, streak in month}
            used = sum(1 for _, made_up, _ in month if made_up)
            if day in streaks:
                raise AlreadyCheckedIn("That day is checked in already.")
            if used >= rules.makeup_per_month:
                raise Conflict(
                    "No make-ups left this month.",
                    code="makeup_limit_reached",
                    details={"limit": rules.makeup_per_month},
                )
            streak = await _streak_before(conn, member.id, day, streaks) + 1
            row = await Checkin.create(
                member_id=member.id,
                day=day,
                streak=streak,
                points=(await rules_for(day, conn)).base_points,
                made_up=True,
                price_points=price,
                created_at=now,
                using_db=conn,
            )
            await _join_following_run(conn, member.id, day, streaks, streak)
            if price:
                await points.spend(
                    services,
                    account,
                    price,
                    reason="checkin_makeup_fee",
                    idempotency_key=f"checkin-makeup-fee:{member.id}:{day.isoformat()}",
                    reference=f"checkin:{day.isoformat()}",
                )
            await _reward(services, account, day, row.points, rules, "checkin_makeup")
    except IntegrityError:
        raise AlreadyCheckedIn("That day is checked in already.") from None
    return MakeupResult(
        checkin=await _result(services, row, account.row.points_balance, today),
        price_points=price,
        current_streak=await current_streak(member.id, today),
        makeup_left=max(0, rules.makeup_per_month - used - 1),
    )


async def _streak_before(
    conn: BaseDBAsyncClient, member_id: int, day: date, streaks: dict[date, int]
) -> int:
    previous = day - timedelta(days=1)
    if previous in streaks:
        return streaks[previous]
    if previous.month == day.month:
        return 0
    row = await Checkin.filter(member_id=member_id, day=previous).using_db(conn).first()
    return row.streak if row is not None else 0


async def _join_following_run(
    conn: BaseDBAsyncClient, member_id: int, day: date, streaks: dict[date, int], streak: int
) -> None:
    """The days right after a filled gap were a run starting at 1; they now continue `day`."""
    end = day
    while end + timedelta(days=1) in streaks:
        end += timedelta(days=1)
    if end > day:
        await (
            Checkin.filter(member_id=member_id, day__gt=day, day__lte=end)
            .using_db(conn)
            .update(streak=F("streak") + streak)
        )
