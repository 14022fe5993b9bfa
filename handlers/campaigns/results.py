"""A campaign's results: who it reached, what it gave, and what its members bought after it
started compared with its holdout group; and the per-member rows as a CSV export.

The holdout members were recorded with the others and never contacted, so the difference
between the two groups' purchases is what the campaign caused (up to chance). Every figure is
counted by a few set-based statements grouped by `holdout`, on SQLite as on PostgreSQL:

- the delivery rows per group, state and reason (the treated rows' outcomes);
- the coupons the treated rows gave, and how many of them were used;
- per member, the purchases in each window of 7, 14 and 30 days from `started_at`
  (`started_at <= created_at < started_at + days`), net of refunds (`amount_fen -
  refunded_fen`, the till's running total), summed per group with the sum of squares of
  the per-member amounts (members who bought nothing count as 0) for the variance. A member
  with any purchase in the window is a purchaser, even if it was refunded since: the refund
  shows in the amount.

The 95 % intervals are computed here from those sums by pure functions: the difference of the
purchase rates by the two-proportion Wald interval (unpooled standard error), the difference
of the amount per member by the normal approximation for a difference of means (Welch's
standard error). A window is `complete` once its last day has passed; before that its figures
are the purchases so far.

The export gives one row per delivery row in id order, read in batches by key (never an
offset), with the member's card number but no name or phone.

Parameters are written `$n` and become `?n` on SQLite (`placeholders`); timestamps are passed
as the ORM stores them (`db_moment`).
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient

from wxmember.core.models.campaigns import Campaign
from wxmember.core.models.coupons import CouponStatus
from wxmember.core.models.pos import Purchase
from wxmember.core.models.reminders import DeliveryState
from wxmember.core.prepared import db_moment, placeholders

WINDOWS = (7, 14, 30)
EXPORT_DAYS = 30
BATCH = 1000
Z95 = 1.959964
METHOD = (
    "Treated members against the holdout group, who were never contacted. Purchase rate: "
    "difference of proportions with the two-proportion Wald interval (unpooled standard "
    "error). Amount per member (net of refunds, members without purchases counted as 0): "
    "difference of means with the normal approximation (Welch's standard error). Both 95 %."
)
EXPORT_HEADER = [
    "card_no",
    "group",
    "state",
    "reason",
    "coupon_id",
    "coupon_status",
    "points_entry_id",
    f"purchases_{EXPORT_DAYS}d",
    f"amount_{EXPORT_DAYS}d_fen",
]

# $1 campaign id.
_DELIVERIES = """
SELECT holdout, state, reason, COUNT(*) AS n FROM campaign_deliveries
WHERE campaign_id = $1 GROUP BY holdout, state, reason
"""
# $1 campaign id, $2 the used status.
_COUPONS = """
SELECT COUNT(*) AS given, COALESCE(SUM(CASE WHEN c.status = $2 THEN 1 ELSE 0 END), 0) AS redeemed
FROM campaign_deliveries d JOIN coupons c ON c.id = d.coupon_id
WHERE d.campaign_id = $1 AND NOT d.holdout
"""
# $1 campaign id, $2 started_at, $3.. the end of each window (the last is the longest).
_BOUGHT = """
SELECT d.holdout, COUNT(*) AS members, {totals}
FROM campaign_deliveries d
LEFT JOIN (
  SELECT p.member_id, {per_member}
  FROM pos_purchases p
  JOIN campaign_deliveries c ON c.member_id = p.member_id AND c.campaign_id = $1
  WHERE p.created_at >= $2 AND p.created_at < ${last}
  GROUP BY p.member_id
) b ON b.member_id = d.member_id
WHERE d.campaign_id = $1
GROUP BY d.holdout
"""
_PER_MEMBER = (
    "SUM(CASE WHEN p.created_at < ${end} THEN 1 ELSE 0 END) AS n{i}, "
    "SUM(CASE WHEN p.created_at < ${end} THEN p.amount_fen - p.refunded_fen ELSE 0 END) AS a{i}"
)
_TOTALS = (
    "SUM(CASE WHEN b.n{i} > 0 THEN 1 ELSE 0 END) AS buyers{i}, "
    "COALESCE(SUM(b.n{i}), 0) AS purchases{i}, COALESCE(SUM(b.a{i}), 0) AS amount{i}, "
    "COALESCE(SUM(b.a{i} * b.a{i}), 0) AS squares{i}"
)
# $1 campaign id, $2 the last id read, $3 started_at, $4 its end, $5 the batch size.
_EXPORT = """
WITH batch AS (
  SELECT id, member_id, holdout, state, reason, coupon_id, points_entry_id
  FROM campaign_deliveries WHERE campaign_id = $1 AND id > $2 ORDER BY id LIMIT $5
)
SELECT b.id, m.card_no, b.holdout, b.state, b.reason, b.coupon_id, c.status AS coupon_status,
       b.points_entry_id, COALESCE(p.n, 0) AS purchases, COALESCE(p.amount, 0) AS amount
FROM batch b
JOIN members m ON m.id = b.member_id
LEFT JOIN coupons c ON c.id = b.coupon_id
LEFT JOIN (
  SELECT member_id, COUNT(*) AS n, SUM(amount_fen - refunded_fen) AS amount
  FROM pos_purchases
  WHERE member_id IN (SELECT member_id FROM batch) AND created_at >= $3 AND created_at < $4
  GROUP BY member_id
) p ON p.member_id = b.member_id
ORDER BY b.id
"""


@dataclass(frozen=True)
class Estimate:
    """A difference between the groups, with its 95 % interval (None when it has none)."""

    value: float
    ci95: tuple[float, float] | None


def two_proportion_ci(x1: int, n1: int, x2: int, n2: int) -> Estimate | None:
    """x1/n1 - x2/n2 with its Wald interval (unpooled); None when a group is empty."""
    if n1 <= 0 or n2 <= 0:
        return None
    p1, p2 = x1 / n1, x2 / n2
    se = math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    return _around(p1 - p2, se)


def sample_variance(n: int, total: int, squares: int) -> float | None:
    """The sample variance (n - 1) of n values from their sum and sum of squares, exactly
    in integers; None below two values."""
    if n < 2:
        return None
    return (n * squares - total * total) / (n * (n - 1))


def mean_difference_ci(n1: int, s1: int, ss1: int, n2: int, s2: int, ss2: int) -> Estimate | None:
    """s1/n1 - s2/n2 with its normal-approximation interval (Welch's standard error), from
    each group's count, sum and sum of squares; None when a group is empty, no interval when
    a group has a single value (no variance)."""
    if n1 <= 0 or n2 <= 0:
        return None
    difference = s1 / n1 - s2 / n2
    v1, v2 = sample_variance(n1, s1, ss1), sample_variance(n2, s2, ss2)
    if v1 is None or v2 is None:
        return Estimate(difference, None)
    return _around(difference, math.sqrt(v1 / n1 + v2 / n2))


def _around(value: float, se: float) -> Estimate:
    return Estimate(value, (value - Z95 * se, value + Z95 * se))


def _conn() -> BaseDBAsyncClient:
    return connections.get("default")


async def _rows(sql: str, args: list[Any]) -> list[dict[str, Any]]:
    conn = _conn()
    _, found = await conn.execute_query(placeholders(conn, sql), args)
    return [dict(row) for row in found]


def _moment(value: datetime) -> object:
    return db_moment(Purchase, "created_at", value)


async def campaign_results(campaign: Campaign, now: datetime) -> dict[str, Any]:
    """The campaign's reach, gifts and purchase windows against its holdout group, as of `now`."""
    started = campaign.started_at
    if started is None:
        # nothing is recorded before the campaign starts
        return {
            "method": METHOD,
            "groups": _no_groups(),
            "deliveries": _no_deliveries(),
            "coupons": {"given": 0, "redeemed": 0},
            "windows": [],
        }
    groups, deliveries = await _deliveries(campaign)
    ends = [started + timedelta(days=days) for days in WINDOWS]
    bought = await _bought(campaign, started, ends)
    empty = [Sums()] * len(WINDOWS)
    treated, holdout = bought.get(False, empty), bought.get(True, empty)
    return {
        "method": METHOD,
        "groups": groups,
        "deliveries": deliveries,
        "coupons": await _coupons(campaign),
        "windows": [
            _window(days, now >= end, treated[i], holdout[i])
            for i, (days, end) in enumerate(zip(WINDOWS, ends, strict=True))
        ],
    }


def _no_groups() -> dict[str, int]:
    return {"treated": 0, "holdout": 0}


def _no_deliveries() -> dict[str, Any]:
    return {
        "sent": 0,
        "skipped": 0,
        "failed": 0,
        "waiting": 0,
        "skip_reasons": {},
        "fail_reasons": {},
    }


async def _deliveries(campaign: Campaign) -> tuple[dict[str, int], dict[str, Any]]:
    """Rows per group; the treated rows per outcome, and the reasons of the skipped and failed."""
    groups, outcomes = _no_groups(), _no_deliveries()
    for row in await _rows(_DELIVERIES, [campaign.id]):
        n = int(row["n"])
        if row["holdout"]:
            groups["holdout"] += n
            continue
        groups["treated"] += n
        state, reason = str(row["state"]), str(row["reason"] or "unknown")
        if state in (DeliveryState.CLAIMED, DeliveryState.SENDING):
            outcomes["waiting"] += n
        elif state in (DeliveryState.SENT, DeliveryState.SKIPPED, DeliveryState.FAILED):
            outcomes[state] += n
        if state == DeliveryState.SKIPPED:
            _count(outcomes["skip_reasons"], reason, n)
        elif state == DeliveryState.FAILED:
            _count(outcomes["fail_reasons"], reason, n)
    return groups, outcomes


def _count(counts: dict[str, int], key: str, n: int) -> None:
    counts[key] = counts.get(key, 0) + n


async def _coupons(campaign: Campaign) -> dict[str, int]:
    """The coupons the treated rows gave, and how many were used."""
    found = await _rows(_COUPONS, [campaign.id, CouponStatus.USED.value])
    row = found[0] if found else {}
    return {"given": int(row.get("given") or 0), "redeemed": int(row.get("redeemed") or 0)}


@dataclass(frozen=True)
class Sums:
    """A group's purchases in a window: members, buyers, purchases, net amount, and the sum of
    squares of the per-member net amounts (for the variance)."""

    members: int = 0
    buyers: int = 0
    purchases: int = 0
    amount: int = 0
    squares: int = 0


def _bought_sql(windows: int) -> str:
    # window i ends at parameter $(3 + i)
    per_member = ", ".join(_PER_MEMBER.format(end=3 + i, i=i) for i in range(windows))
    totals = ", ".join(_TOTALS.format(i=i) for i in range(windows))
    return _BOUGHT.format(per_member=per_member, totals=totals, last=2 + windows)


async def _bought(
    campaign: Campaign, started: datetime, ends: list[datetime]
) -> dict[bool, list[Sums]]:
    """Per group (holdout or not), the sums of each window, in one statement."""
    args = [campaign.id, _moment(started), *(_moment(end) for end in ends)]
    found: dict[bool, list[Sums]] = {}
    for row in await _rows(_bought_sql(len(ends)), args):
        number = {key: int(value or 0) for key, value in row.items() if key != "holdout"}
        found[bool(row["holdout"])] = [
            Sums(
                members=number["members"],
                buyers=number[f"buyers{i}"],
                purchases=number[f"purchases{i}"],
                amount=number[f"amount{i}"],
                squares=number[f"squares{i}"],
            )
            for i in range(len(ends))
        ]
    return found


def _group(sums: Sums) -> dict[str, Any]:
    members = sums.members
    return {
        "members": members,
        "purchasers": sums.buyers,
        "purchases": sums.purchases,
        "amount_fen": sums.amount,
        "rate": sums.buyers / members if members else None,
        "amount_per_member_fen": sums.amount / members if members else None,
    }


def _window(days: int, complete: bool, treated: Sums, holdout: Sums) -> dict[str, Any]:
    """One window's figures per group and their difference (treated minus holdout)."""
    rate = two_proportion_ci(treated.buyers, treated.members, holdout.buyers, holdout.members)
    amount = mean_difference_ci(
        treated.members,
        treated.amount,
        treated.squares,
        holdout.members,
        holdout.amount,
        holdout.squares,
    )
    return {
        "days": days,
        "complete": complete,
        "treated": _group(treated),
        "holdout": _group(holdout),
        "difference": {
            "rate": rate.value if rate else None,
            "rate_ci95": _interval(rate),
            "amount_per_member_fen": amount.value if amount else None,
            "amount_ci95": _interval(amount),
        },
    }


def _interval(estimate: Estimate | None) -> list[float] | None:
    if estimate is None or estimate.ci95 is None:
        return None
    return list(estimate.ci95)


def csv_filename(campaign: Campaign) -> str:
    """The export's file name."""
    return f"campaign-{campaign.id}-results.csv"


async def export_rows(campaign: Campaign, *, batch: int = BATCH) -> AsyncIterator[list[str]]:
    """The header, then one row per delivery row in id order, `batch` rows per statement."""
    yield list(EXPORT_HEADER)
    started = campaign.started_at
    # deliveries are recorded when the campaign starts: without a start there are none
    if started is None:
        return
    window = [_moment(started), _moment(started + timedelta(days=EXPORT_DAYS))]
    after = 0
    while True:
        found = await _rows(_EXPORT, [campaign.id, after, *window, batch])
        for row in found:
            yield _export_row(row)
        if len(found) < batch:
            return
        after = int(found[-1]["id"])


def _export_row(row: dict[str, Any]) -> list[str]:
    return [
        _text(row["card_no"]),
        "holdout" if row["holdout"] else "treated",
        _text(row["state"]),
        _text(row["reason"]),
        _text(row["coupon_id"]),
        _text(row["coupon_status"]),
        _text(row["points_entry_id"]),
        str(int(row["purchases"])),
        str(int(row["amount"])),
    ]


def _text(value: object) -> str:
    return "" if value is None else str(value)


async def export_csv(campaign: Campaign, *, chunk_bytes: int = 64 * 1024) -> AsyncIterator[bytes]:
    """`export_rows` as CSV, UTF-8 with a byte-order mark (so spreadsheets read it), in chunks
    of about `chunk_bytes` to stream."""
    yield "\ufeff".encode()
    out = io.StringIO()
    writer = csv.writer(out)
    async for row in export_rows(campaign):
        writer.writerow(row)
        if out.tell() >= chunk_bytes:
            yield out.getvalue().encode()
            out.seek(0)
            out.truncate()
    yield out.getvalue().encode()
