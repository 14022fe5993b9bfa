"""What happened in a span of time, in set-based SQL: a few range queries on indexed timestamps.

`changes(start, end)` counts everything the dashboard shows for `[start, end)`: flows (cards
opened, check-ins, points issued, coupons handed out, ...) and the changes of the stocks that a
day carries over (card holders, outstanding points, members per tier). Every query reads rows
by an indexed timestamp or day (see the migration `0004_dashboard`), never by member, so a day
costs the same at a hundred members as at a million. `followers_at(end)` is the one stock
counted as a whole: how many follow the Official Account at a moment, from each follower's
latest follow and unfollow.

The SQL is written once for SQLite and PostgreSQL: `$1`-style parameters (SQLite's `?1`),
datetimes in UTC as the ORM stores them on both.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from wxmember.core.db import reading_connection
from wxmember.core.models.coupons import CouponSource
from wxmember.core.models.points import EntryKind

# The start of a span that begins with the first record.
BEGINNING = datetime(1970, 1, 1, tzinfo=UTC)

_RANGE = "{0} >= $1 AND {0} < $2"

_NEW_CARDS = f"SELECT COUNT(*) AS n FROM members WHERE {_RANGE.format('card_opened_at')}"
_CLOSED_CARDS = f"""
SELECT tier_id, COUNT(*) AS n FROM members
WHERE {_RANGE.format("deleted_at")} AND card_opened_at IS NOT NULL
GROUP BY tier_id
"""
_TIER_MOVES = f"""
SELECT from_tier_id, to_tier_id, COUNT(*) AS n FROM tier_changes
WHERE {_RANGE.format("created_at")}
GROUP BY from_tier_id, to_tier_id
"""
_ACTIVE = f"""
SELECT COUNT(*) AS n FROM (
  SELECT member_id FROM checkins WHERE {_RANGE.format("created_at")}
  UNION SELECT member_id FROM pos_purchases WHERE {_RANGE.format("created_at")}
  UNION SELECT member_id FROM coupons WHERE {_RANGE.format("created_at")} AND source = $3
  UNION SELECT member_id FROM coupons WHERE {_RANGE.format("used_at")}
  UNION SELECT member_id FROM mall_orders WHERE {_RANGE.format("created_at")}
) AS active
"""
_CHECKINS = f"SELECT COUNT(*) AS n FROM checkins WHERE {_RANGE.format('created_at')}"
# `amount - debt_change` is what an operation gave before settling debt (its gross value).
_POINTS = f"""
SELECT kind, COALESCE(SUM(amount), 0) AS net,
       COALESCE(SUM(CASE WHEN amount - debt_change > 0 THEN amount - debt_change ELSE 0 END), 0)
         AS credited
FROM points_entries WHERE {_RANGE.format("created_at")}
GROUP BY kind
"""
_COUPONS_CLAIMED = f"""
SELECT template_id, COUNT(*) AS n FROM coupons WHERE {_RANGE.format("created_at")}
GROUP BY template_id
"""
_COUPONS_REDEEMED = f"""
SELECT template_id, COUNT(*) AS n FROM coupons WHERE {_RANGE.format("used_at")}
GROUP BY template_id
"""
_MALL = f"SELECT COUNT(*) AS n FROM mall_orders WHERE {_RANGE.format('created_at')}"
_POINTS_NET = (
    "SELECT COALESCE(SUM(amount), 0) AS net FROM points_entries"
    f" WHERE {_RANGE.format('created_at')}"
)
_REMINDERS = "SELECT state, COUNT(*) AS n FROM reminder_deliveries WHERE day = $1 GROUP BY state"
_FOLLOWS = f"SELECT COUNT(*) AS n FROM bot_followers WHERE {_RANGE.format('subscribed_at')}"
_UNFOLLOWS = f"SELECT COUNT(*) AS n FROM bot_followers WHERE {_RANGE.format('unsubscribed_at')}"
# Following at `$1`: followed before it and, if they have left since, left after it. A follower
# who left and came back counts from their latest follow only: the row keeps no older history.
_FOLLOWERS_AT = """
SELECT
  (SELECT COUNT(*) FROM bot_followers WHERE subscribed = $2 AND subscribed_at < $1)
  + (SELECT COUNT(*) FROM bot_followers
     WHERE subscribed = $3 AND unsubscribed_at >= $1 AND subscribed_at < $1) AS n
"""


async def rows(sql: str, *args: Any) -> list[dict[str, Any]]:
    """The rows of a statement written with `$1`-style parameters, on either database."""
    conn = reading_connection()
    if conn.capabilities.dialect != "postgres":
        sql = re.sub(r"\$(\d+)", r"?\1", sql)
    _, found = await conn.execute_query(sql, list(args))
    return [dict(row) for row in found]


async def _count(sql: str, *args: Any) -> int:
    found = await rows(sql, *args)
    return int(found[0]["n"] or 0) if found else 0


@dataclass
class Changes:
    """What happened in `[start, end)`: flows, and the changes of the stocks."""

    new_cards: int = 0
    closed_cards: int = 0
    active_members: int = 0
    checkins: int = 0
    points_issued: int = 0
    points_spent: int = 0
    points_expired: int = 0
    points_net: int = 0
    coupons_claimed: int = 0
    coupons_redeemed: int = 0
    # template id -> [handed out, redeemed]
    coupons: dict[str, list[int]] = field(default_factory=dict)
    mall_redemptions: int = 0
    # tier id -> members gained (negative: lost); cards opened count in the entry tier
    tier_moves: Counter[str] = field(default_factory=Counter)
    reminders: dict[str, int] = field(default_factory=dict)
    new_followers: int = 0
    unfollows: int = 0


async def _points(changes: Changes, start: datetime, end: datetime) -> None:
    for row in await rows(_POINTS, start, end):
        kind, net, credited = str(row["kind"]), int(row["net"]), int(row["credited"])
        changes.points_net += net
        if kind in (EntryKind.EARN, EntryKind.ADJUST):
            changes.points_issued += credited
        elif kind == EntryKind.SPEND:
            changes.points_spent -= net
        elif kind == EntryKind.EXPIRE:
            changes.points_expired -= net


async def _coupons(changes: Changes, start: datetime, end: datetime) -> None:
    per_template: dict[str, list[int]] = {}
    for column, sql in enumerate((_COUPONS_CLAIMED, _COUPONS_REDEEMED)):
        for row in await rows(sql, start, end):
            counts = per_template.setdefault(str(row["template_id"]), [0, 0])
            counts[column] += int(row["n"])
    changes.coupons = per_template
    changes.coupons_claimed = sum(counts[0] for counts in per_template.values())
    changes.coupons_redeemed = sum(counts[1] for counts in per_template.values())


async def _tiers(changes: Changes, start: datetime, end: datetime, entry_tier_id: int) -> None:
    moves: Counter[str] = Counter()
    if changes.new_cards:
        moves[str(entry_tier_id)] += changes.new_cards
    for row in await rows(_TIER_MOVES, start, end):
        n = int(row["n"])
        if row["from_tier_id"] is not None:
            moves[str(row["from_tier_id"])] -= n
        if row["to_tier_id"] is not None:
            moves[str(row["to_tier_id"])] += n
    for row in await rows(_CLOSED_CARDS, start, end):
        changes.closed_cards += int(row["n"])
        if row["tier_id"] is not None:
            moves[str(row["tier_id"])] -= int(row["n"])
    changes.tier_moves = moves


async def carried(start: datetime, end: datetime, entry_tier_id: int) -> Changes:
    """Only what changes the stocks in `[start, end)`: cards, tiers, the net of points."""
    found = Changes()
    found.new_cards = await _count(_NEW_CARDS, start, end)
    await _tiers(found, start, end, entry_tier_id)
    found.points_net = int((await rows(_POINTS_NET, start, end))[0]["net"] or 0)
    return found


async def changes(start: datetime, end: datetime, day: date, entry_tier_id: int) -> Changes:
    """Everything counted in `[start, end)`, the local day `day` (reminders by send day)."""
    found = Changes()
    found.new_cards = await _count(_NEW_CARDS, start, end)
    await _tiers(found, start, end, entry_tier_id)
    found.active_members = await _count(_ACTIVE, start, end, CouponSource.CLAIM.value)
    found.checkins = await _count(_CHECKINS, start, end)
    await _points(found, start, end)
    await _coupons(found, start, end)
    found.mall_redemptions = await _count(_MALL, start, end)
    found.reminders = {str(row["state"]): int(row["n"]) for row in await rows(_REMINDERS, day)}
    found.new_followers = await _count(_FOLLOWS, start, end)
    found.unfollows = await _count(_UNFOLLOWS, start, end)
    return found


async def followers_at(moment: datetime) -> int:
    """How many followed the Official Account at `moment`."""
    return await _count(_FOLLOWERS_AT, moment, True, False)


async def first_record() -> datetime | None:
    """When the first member arrived (joined or opened a card), or None without members."""
    found = await rows(
        "SELECT (SELECT created_at FROM members ORDER BY id LIMIT 1) AS joined,"
        " (SELECT MIN(card_opened_at) FROM members) AS opened"
    )
    moments = [_moment(found[0][key]) for key in ("joined", "opened")] if found else []
    present = [moment for moment in moments if moment is not None]
    return min(present) if present else None


def _moment(value: Any) -> datetime | None:
    """A datetime read by raw SQL: aware on PostgreSQL, ISO text on SQLite."""
    if value is None:
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
