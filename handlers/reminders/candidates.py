"""Who a rule reminds on a given local day, found through indexes, and what the message says.

- birthday: members whose (birth_month, birth_day) is the target day, `days_before` after the
  send day; in a non-leap year members born on 29 February are reminded with those of the 28th.
  Occasion `birthday:<year>`.
- points_expiring: lots whose `expires_at` (the last usable second) falls in the target local
  day, summed per member. Occasion `points:<YYYY-MM-DD>`.
- coupon_expiring: unused coupons whose `valid_until` (exclusive) ends the target local day.
  Occasion `coupon:<id>`.

Each query walks an index in key order from a cursor, a page at a time; no query reads every
member. Days are the brand's local days; the database compares UTC instants.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from tortoise.expressions import Subquery
from tortoise.functions import Count, Max, Sum

from handlers.coupons.codes import describe, display_code
from handlers.reminders.fields import NOTICE_PHRASES, apply_mapping, display_name
from wxmember.core.context import Services
from wxmember.core.kernel import continue_after, id_fits
from wxmember.core.localtime import local_midnight
from wxmember.core.models import Member
from wxmember.core.models.coupons import Coupon, CouponStatus, CouponTemplate
from wxmember.core.models.points import PointsLot
from wxmember.core.models.reminders import Channel, ReminderKind, ReminderRule


@dataclass
class Candidate:
    """One reminder a rule would send: to whom, for which occasion, with which values."""

    cursor: int
    member: Member
    occasion: str
    target_day: date
    points: int | None = None
    last_usable: datetime | None = None
    coupon: Coupon | None = None


def target_day(rule: ReminderRule, day: date) -> date:
    """The birthday or expiry day a reminder sent on `day` is about."""
    return day + timedelta(days=rule.days_before)


def birthdays_on(day: date) -> tuple[int, list[int]]:
    """The (month, days) of birthdays celebrated on `day`: 29 Feb joins 28 Feb in common years."""
    if (day.month, day.day) == (2, 28) and not calendar.isleap(day.year):
        return 2, [28, 29]
    return day.month, [day.day]


async def _members(ids: list[int]) -> dict[int, Member]:
    rows = await Member.filter(id__in=ids, deleted_at__isnull=True).select_related("tier")
    return {member.id: member for member in rows}


Page = tuple[list[Candidate], int | None]


def _page(found: list[Candidate], keys: list[int], limit: int) -> Page:
    """The candidates and the cursor to continue from (None: nothing more to scan)."""
    return found, (keys[-1] if len(keys) >= limit else None)


async def _birthday(services: Services, target: date, after: int, limit: int) -> Page:
    month, days = birthdays_on(target)
    query = Member.filter(birth_month=month, birth_day__in=days, deleted_at__isnull=True)
    members = await (
        continue_after(query, after, newest_first=False)
        .select_related("tier")
        .order_by("id")
        .limit(limit)
    )
    found = [Candidate(m.id, m, f"birthday:{target.year}", target) for m in members]
    return _page(found, [m.id for m in members], limit)


async def _points(services: Services, target: date, after: int, limit: int) -> Page:
    if not id_fits(Member, after + 1):
        return [], None  # no member id follows the cursor (nor can the database compare it)
    tz = services.config.brand.tz
    start, end = local_midnight(target, tz), local_midnight(target + timedelta(days=1), tz)
    rows = await (
        PointsLot.filter(
            expires_at__gte=start, expires_at__lt=end, remaining__gt=0, member_id__gt=after
        )
        .annotate(total=Sum("remaining"), last=Max("expires_at"))
        .group_by("member_id")
        .order_by("member_id")
        .limit(limit)
        .values("member_id", "total", "last")
    )
    members = await _members([row["member_id"] for row in rows])
    found = [
        Candidate(
            row["member_id"],
            members[row["member_id"]],
            f"points:{target.isoformat()}",
            target,
            points=int(row["total"]),
            last_usable=_aware(row["last"]),
        )
        for row in rows
        if row["member_id"] in members
    ]
    return _page(found, [row["member_id"] for row in rows], limit)


def _aware(value: Any) -> datetime:
    """SQLite hands back aggregates of datetimes as text; make them aware UTC datetimes."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


async def _coupons(services: Services, target: date, after: int, limit: int) -> Page:
    tz = services.config.brand.tz
    start, end = local_midnight(target, tz), local_midnight(target + timedelta(days=1), tz)
    query = Coupon.filter(status=CouponStatus.UNUSED, valid_until__gt=start, valid_until__lte=end)
    coupons = await (
        continue_after(query, after, newest_first=False)
        .select_related("template")
        .order_by("id")
        .limit(limit)
    )
    members = await _members(sorted({c.member_id for c in coupons}))
    found = []
    for coupon in coupons:
        member = members.get(coupon.member_id)
        if member is None:
            continue
        last = coupon.valid_until - timedelta(seconds=1)
        found.append(
            Candidate(
                coupon.id, member, f"coupon:{coupon.id}", target, last_usable=last, coupon=coupon
            )
        )
    return _page(found, [coupon.id for coupon in coupons], limit)


_FINDERS = {
    ReminderKind.BIRTHDAY: _birthday,
    ReminderKind.POINTS_EXPIRING: _points,
    ReminderKind.COUPON_EXPIRING: _coupons,
}


async def find_candidates(
    services: Services, rule: ReminderRule, day: date, after: int, limit: int
) -> Page:
    """Reminders of `rule` for the local send day `day`: a page after `after`, and the next."""
    finder = _FINDERS[ReminderKind(rule.kind)]
    return await finder(services, target_day(rule, day), after, limit)


@dataclass(frozen=True)
class Reach:
    """How many reminders a rule would send on a day, and to how many members."""

    reminders: int
    members: int


def _not_deleted() -> Subquery:
    # Deleted members are few and their column is indexed: exclude them rather than join.
    return Subquery(Member.filter(deleted_at__isnull=False).values("id"))


async def count_candidates(services: Services, rule: ReminderRule, day: date) -> Reach:
    """How many reminders `find_candidates` would list for the send day, counted in one query."""
    target = target_day(rule, day)
    kind = ReminderKind(rule.kind)
    if kind is ReminderKind.BIRTHDAY:
        month, days = birthdays_on(target)
        n = await Member.filter(
            birth_month=month, birth_day__in=days, deleted_at__isnull=True
        ).count()
        return Reach(n, n)
    tz = services.config.brand.tz
    start, end = local_midnight(target, tz), local_midnight(target + timedelta(days=1), tz)
    if kind is ReminderKind.POINTS_EXPIRING:
        rows = await (
            PointsLot.filter(expires_at__gte=start, expires_at__lt=end, remaining__gt=0)
            .exclude(member_id__in=_not_deleted())
            .annotate(n=Count("member_id", distinct=True))
            .values("n")
        )
        n = int(rows[0]["n"]) if rows else 0
        return Reach(n, n)
    rows = await (
        Coupon.filter(status=CouponStatus.UNUSED, valid_until__gt=start, valid_until__lte=end)
        .exclude(member_id__in=_not_deleted())
        .annotate(n=Count("id"), m=Count("member_id", distinct=True))
        .values("n", "m")
    )
    return Reach(int(rows[0]["n"]), int(rows[0]["m"])) if rows else Reach(0, 0)


async def gift_name(rule: ReminderRule) -> str | None:
    """How the rule's birthday gift is named in a message, if it has one."""
    if rule.gift_points:
        return f"{rule.gift_points}积分"
    if rule.gift_coupon_template_id:
        template = await CouponTemplate.get_or_none(id=rule.gift_coupon_template_id)
        return template.title if template is not None else "生日礼券"
    return None


def _date_text(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def field_values(
    services: Services, rule: ReminderRule, day: date, found: Candidate, gift: str | None
) -> dict[str, str]:
    """Every catalogue field of the rule's kind, rendered for this candidate."""
    tz = services.config.brand.tz
    member = found.member
    tier = member.tier if member.tier_id is not None else None
    brand = services.config.brand.name.strip()[:20] or "会员中心"
    values = {
        "member_name": display_name(member.name),
        "brand_name": brand,
        "tier_name": tier.name if tier is not None else "会员",
        "card_no": member.card_no or "-",
        "send_date": _date_text(day),
        "notice_phrase": NOTICE_PHRASES[ReminderKind(rule.kind)],
        "days_left": str((found.target_day - day).days),
        "birthday": _date_text(found.target_day),
        "gift_name": gift or "",
    }
    if found.last_usable is not None:
        last = found.last_usable.astimezone(tz)
        values["expiry_date"] = _date_text(last.date())
        values["expiry_time"] = f"{_date_text(last.date())} {last:%H:%M}"
    if found.points is not None:
        values["points"] = str(found.points)
        values["points_balance"] = str(member.points_balance)
    if found.coupon is not None:
        template = found.coupon.template
        values["coupon_title"] = template.title
        values["coupon_value"] = describe(
            template.kind, template.value, template.threshold_fen, template.max_discount_fen
        )
        values["coupon_code"] = display_code(found.coupon.code)
    return values


def render(
    services: Services, rule: ReminderRule, day: date, found: Candidate, gift: str | None
) -> dict[str, str]:
    """The template data of this reminder, as WeChat will receive it."""
    values = field_values(services, rule, day, found, gift)
    return apply_mapping(rule.mapping, values, Channel(rule.channel))
