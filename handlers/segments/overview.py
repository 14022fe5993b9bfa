"""What staff read of RFM: a member's scores, segment sizes now, the monthly moves, the runs.

Sizes "now" count the rows of the latest finished run's day (and of a run under way since, so
that sizes never dip while a run writes). The monthly moves come from the snapshots in
`rfm_months`: for a month, how many members went from each segment (at the month before's
snapshot) to each segment; members without a previous snapshot come from "none".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.functions import Count, Sum

from handlers.segments.rules import Segment, label
from wxmember.core.kernel import continue_after, get_member
from wxmember.core.models.segments import MemberRfm, RfmMonth, RfmRun, RfmRunStatus


def rfm_public(row: MemberRfm | None) -> dict[str, Any] | None:
    """A member's RFM as staff see it (None before any run scored them)."""
    if row is None:
        return None
    return {
        "recency_days": row.recency_days,
        "frequency": row.frequency,
        "monetary_fen": row.monetary_fen,
        "r_score": row.r_score,
        "f_score": row.f_score,
        "m_score": row.m_score,
        "segment": row.segment,
        "segment_label": label(row.segment),
        "first_purchase_at": row.first_purchase_at.isoformat() if row.first_purchase_at else None,
        "last_purchase_at": row.last_purchase_at.isoformat() if row.last_purchase_at else None,
        "computed_on": row.computed_on.isoformat(),
        "previous_segment": row.previous_segment,
        "previous_segment_label": label(row.previous_segment),
    }


async def member_rfm(member_id: int) -> MemberRfm | None:
    """A live member's RFM row (None before they are scored); `MemberNotFound` otherwise."""
    await get_member(member_id)
    return await MemberRfm.get_or_none(member_id=member_id)


async def rfm_of(member_id: int) -> MemberRfm | None:
    """A member's RFM row, None before a run scored them (the member is not checked)."""
    return await MemberRfm.get_or_none(member_id=member_id)


async def forget_rfm(member_id: int, *, using_db: BaseDBAsyncClient | None = None) -> None:
    """Drop a member's RFM (their account is deleted); monthly counts already taken stay."""
    await MemberRfm.filter(member_id=member_id).using_db(using_db).delete()


async def last_finished_day() -> date | None:
    """The day of the latest finished run, None before any."""
    run = await RfmRun.filter(status=RfmRunStatus.FINISHED).order_by("-day", "-id").first()
    return run.day if run is not None else None


@dataclass(frozen=True)
class Sizes:
    """Members per segment as of a run's day, every segment listed (zero included)."""

    day: date | None
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def public(self) -> dict[str, Any]:
        return {
            "day": self.day.isoformat() if self.day else None,
            "total": self.total,
            "items": [
                {"segment": str(s), "label": label(s), "members": self.counts.get(str(s), 0)}
                for s in Segment
            ],
        }


async def sizes_now() -> Sizes:
    """Members per segment in the latest finished run (rows of a run since then included)."""
    day = await last_finished_day()
    if day is None:
        return Sizes(None, {})
    found = await (
        MemberRfm.filter(computed_on__gte=day)
        .annotate(n=Count("id"))
        .group_by("segment")
        .values_list("segment", "n")
    )
    return Sizes(day, {str(segment): int(n) for segment, n in found})


async def snapshot_months(limit: int = 24) -> list[date]:
    """The months with a snapshot, newest first."""
    found: list[Any] = await (
        RfmMonth.all().distinct().order_by("-month").limit(limit).values_list("month", flat=True)
    )
    return list(found)


async def monthly_sizes(limit: int = 12) -> list[tuple[date, dict[str, int]]]:
    """Members per segment at each of the latest monthly snapshots, oldest first (the trend)."""
    months = sorted((await snapshot_months(limit))[:limit])
    if not months:
        return []
    found: list[Any] = await (
        RfmMonth.filter(month__in=months)
        .annotate(n=Sum("members"))
        .group_by("month", "segment")
        .values_list("month", "segment", "n")
    )
    sizes: dict[date, dict[str, int]] = {month: {} for month in months}
    for month, segment, n in found:
        sizes[month][str(segment)] = int(n or 0)
    return [(month, sizes[month]) for month in months]


@dataclass(frozen=True)
class Movement:
    """A month's snapshot: members per (from, to) segment; "" is "none before"."""

    month: date | None
    previous_month: date | None
    moves: dict[tuple[str, str], int]

    def sizes(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for (_, to), n in self.moves.items():
            out[to] = out.get(to, 0) + n
        return out

    def public(self) -> dict[str, Any]:
        codes = [str(s) for s in Segment]
        return {
            "month": self.month.isoformat()[:7] if self.month else None,
            "previous_month": self.previous_month.isoformat()[:7] if self.previous_month else None,
            "sizes": [
                {"segment": code, "label": label(code), "members": self.sizes().get(code, 0)}
                for code in codes
            ],
            "moves": [
                {
                    "from_segment": source or None,
                    "from_label": label(source),
                    "to_segment": to,
                    "to_label": label(to),
                    "members": n,
                }
                for (source, to), n in sorted(
                    self.moves.items(),
                    key=lambda item: (
                        codes.index(item[0][0]) if item[0][0] in codes else -1,
                        codes.index(item[0][1]) if item[0][1] in codes else len(codes),
                    ),
                )
            ],
        }


async def movement(month: date | None = None) -> Movement:
    """The moves of a month's snapshot (default: the latest); empty before any snapshot."""
    months = await snapshot_months(limit=1000)
    if month is None:
        month = months[0] if months else None
    if month is None or month not in months:
        return Movement(month, None, {})
    earlier = [m for m in months if m < month]
    rows = await RfmMonth.filter(month=month).values_list("from_segment", "segment", "members")
    moves = {(str(source), str(to)): int(n) for source, to, n in rows}
    return Movement(month, earlier[0] if earlier else None, moves)


async def runs(after_id: int | None, limit: int) -> list[RfmRun]:
    """RFM runs, newest first, `limit + 1` rows so the caller knows of a next page."""
    return await continue_after(RfmRun.all().order_by("-id"), after_id).limit(limit + 1)
