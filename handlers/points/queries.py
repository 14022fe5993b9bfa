"""What a member (or an operator) sees of the points ledger: balance, soon-expiring points, rows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from handlers.points.ledger import expire_member
from handlers.points.lots import expiring_window, shown_expiry
from wxmember.core.context import Services
from wxmember.core.kernel import continue_after, get_member
from wxmember.core.models import Member
from wxmember.core.models.points import PointsEntry, PointsLot
from wxmember.core.prepared import db_moment, placeholders, read_rows

EXPIRING_WITHIN_DAYS = 30


def entry_public(entry: PointsEntry) -> dict[str, Any]:
    """A ledger row for the API."""
    return {
        "id": entry.id,
        "kind": str(entry.kind),
        "amount": entry.amount,
        "balance_after": entry.balance_after,
        "debt_change": entry.debt_change,
        "debt_after": entry.debt_after,
        "reason": entry.reason,
        "reference": entry.reference,
        "expires_at": shown_expiry(entry.expires_at) if entry.amount > 0 else None,
        "created_at": entry.created_at.isoformat(),
    }


# The member's lots with points left that expire by the window's end, summed per instant: the
# due ones (before the window) say whether to expire first, the rest are the window. One fixed
# statement, as the mini-program and the bot's 积分 ask it on every visit.
_UPCOMING = """
SELECT expires_at, SUM(remaining) AS points FROM points_lots
WHERE member_id = $1 AND remaining > 0 AND expires_at <= $2
GROUP BY expires_at
"""


async def _upcoming(member_id: int, end: datetime) -> list[tuple[datetime, int]]:
    conn = PointsLot._meta.db
    field = PointsLot._meta.fields_map["expires_at"]
    rows = await read_rows(
        conn, placeholders(conn, _UPCOMING), [member_id, db_moment(PointsLot, "expires_at", end)]
    )
    return sorted((field.to_python_value(row[0]), int(row[1])) for row in rows)


async def summary(services: Services, member: Member) -> dict[str, Any]:
    """Balance, debt and the points expiring within 30 days, grouped by local expiry date."""
    tz = services.config.brand.tz
    start, end = expiring_window(services.clock.now(), EXPIRING_WITHIN_DAYS, tz)
    # Kept with the cached member: every change to their lots locks the member (or, for the
    # expiry job, concerns everyone), and a lot that falls due meanwhile is found below.
    lots = await services.members.derived(
        member.id, f"upcoming-lots:{end.isoformat()}", lambda: _upcoming(member.id, end)
    )
    account = {"points_balance": member.points_balance, "points_debt": member.points_debt}
    if lots and lots[0][0] < start:  # some are due: expire them first, then read afresh
        await expire_member(services, member.id)
        account = await Member.get(id=member.id).values("points_balance", "points_debt")
        lots = await _upcoming(member.id, end)
    by_date: dict[str, dict[str, Any]] = {}
    for expires_at, points in lots:
        if expires_at < start:
            continue  # fell due since: the next visit expires it
        day = expires_at.astimezone(tz).date().isoformat()
        group = by_date.setdefault(day, {"date": day, "expires_at": None, "points": 0})
        # Lots of one local day normally share its last second; show the latest instant.
        group["expires_at"] = shown_expiry(expires_at)
        group["points"] += points
    expiring = list(by_date.values())
    return {
        "balance": account["points_balance"],
        "debt": account["points_debt"],
        "expiring": {
            "within_days": EXPIRING_WITHIN_DAYS,
            "total": sum(group["points"] for group in expiring),
            "items": expiring,
        },
    }


async def ledger(member_id: int, before_id: int | None, limit: int) -> list[PointsEntry]:
    """The member's ledger, newest first; `limit + 1` rows so the caller can tell if more exist.

    404 `member_not_found` for an unknown member (asked only when the page is empty).
    """
    query = PointsEntry.filter(member_id=member_id)
    query = continue_after(query, before_id)
    rows = await query.order_by("-id").limit(limit + 1)
    if not rows:
        await get_member(member_id, include_deleted=True)
    return rows
