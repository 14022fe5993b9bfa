"""The check-in calendar of a month, the current streak and the make-ups left."""

from __future__ import annotations

import calendar as calendars
from datetime import date, timedelta
from typing import Any

from handlers.checkin.rules import rules_in_force
from wxmember.core.context import Services
from wxmember.core.localtime import local_today
from wxmember.core.models import Member
from wxmember.core.models.checkins import Checkin


def month_bounds(day: date) -> tuple[date, date]:
    """The first and last day of the month a day falls in."""
    last = calendars.monthrange(day.year, day.month)[1]
    return day.replace(day=1), day.replace(day=last)


async def current_streak(member_id: int, today: date) -> int:
    """The run that is still alive: ending today, or yesterday if today is not checked in yet."""
    row = await (
        Checkin.filter(member_id=member_id, day__in=[today, today - timedelta(days=1)])
        .order_by("-day")
        .first()
    )
    return row.streak if row is not None else 0


async def month_calendar(services: Services, member: Member, month: date | None) -> dict[str, Any]:
    """The days of a month checked in (made up or not), the streak, and this month's make-ups."""
    today = local_today(services)
    first, last = month_bounds(month or today)
    rows = await Checkin.filter(member_id=member.id, day__gte=first, day__lte=last).order_by("day")
    this_month = month_bounds(today)[0]
    if first == this_month:
        used = sum(1 for row in rows if row.made_up)
    else:
        used = await Checkin.filter(
            member_id=member.id, day__gte=this_month, day__lte=today, made_up=True
        ).count()
    rules = await rules_in_force(services, today)
    return {
        "month": first.strftime("%Y-%m"),
        "days": [
            {
                "date": row.day.isoformat(),
                "points": row.points,
                "bonus_points": row.bonus_points,
                "streak": row.streak,
                "made_up": row.made_up,
            }
            for row in rows
        ],
        "today": today.isoformat(),
        "checked_in_today": any(row.day == today for row in rows)
        if first == this_month
        else await Checkin.exists(member_id=member.id, day=today),
        "streak": await current_streak(member.id, today),
        "makeup": {
            "month": today.strftime("%Y-%m"),
            "limit": rules.makeup_per_month,
            "used": used,
            "left": max(0, rules.makeup_per_month - used),
            "price_points": rules.makeup_price_points,
        },
    }
