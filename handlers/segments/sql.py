"""The RFM statements, set-based, for PostgreSQL and SQLite (both in this one module).

Two statements do the work of a run. `CUTS` runs once when a run starts: it measures every
card holder who purchased and splits each measure into five groups with `NTILE(5)`, worst
first, returning each group's boundary (the quintiles, handlers/segments/rules.py): the
smallest recency of a group of descending recencies, the largest frequency or amount of a
group of ascending ones. `SCORE`
runs once per batch: it measures the card holders of a member id range, scores them against
the run's cuts, gives each a segment and upserts their `member_rfm` rows, all in one
`INSERT ... SELECT ... ON CONFLICT` statement. No purchase passes through Python.

What a run measures, as of its local day's midnight (`as_of`): purchases before it, each net
of the refunds made before it; a purchase refunded in full does not count. Recency is the
number of days from the last counted purchase (any time) to `as_of`, a part of a day counting
as a whole one (a purchase yesterday is 1). Frequency and monetary value cover purchases from
`since` = `as_of` minus `rfm.window_days` days. Card holders are members with a card opened
before `as_of` (or with no opening time on record, as imported cards may be) and no deleted
account.

The dialects differ only in turning a timestamp into whole seconds since the epoch and in
typing a date parameter placed in a select list; each statement is built for its dialect by
`statement(name, dialect)`. Parameters are written `$n` and become `?n` on SQLite.
"""

from __future__ import annotations

import re
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

_EPOCH = {
    "postgres": "FLOOR(EXTRACT(EPOCH FROM {0}))::bigint",
    "sqlite": "unixepoch({0})",
}
_DATE_PARAM = {"postgres": "CAST({0} AS DATE)", "sqlite": "{0}"}

# $1 as_of (timestamp), $2 since (timestamp), $3 as_of in epoch seconds; with a member range,
# $4 < member id <= $5.
_MEASURED = """
purchases AS (
  SELECT p.member_id, p.created_at,
         p.amount_fen - COALESCE((SELECT SUM(r.amount_fen) FROM pos_purchase_refunds r
                                  WHERE r.purchase_id = p.id AND r.created_at < $1), 0) AS net
  FROM pos_purchases p
  WHERE p.created_at < $1 {purchase_range}
),
agg AS (
  SELECT member_id, MIN(created_at) AS first_at, MAX(created_at) AS last_at,
         CAST(SUM(CASE WHEN created_at >= $2 THEN 1 ELSE 0 END) AS BIGINT) AS frequency,
         CAST(SUM(CASE WHEN created_at >= $2 THEN net ELSE 0 END) AS BIGINT) AS monetary
  FROM purchases WHERE net > 0 GROUP BY member_id
)"""
_HOLDERS = (
    "m.card_no IS NOT NULL AND m.deleted_at IS NULL"
    " AND (m.card_opened_at IS NULL OR m.card_opened_at < $1)"
)
_RECENCY = "($3 - {epoch} + 86399) / 86400"

_CUTS = """
WITH {measured},
scored AS (
  SELECT {recency} AS rd, a.frequency AS f, a.monetary AS mo
  FROM agg a JOIN members m ON m.id = a.member_id
  WHERE {holders}
),
ranked AS (
  SELECT rd, f, mo,
         NTILE(5) OVER (ORDER BY rd DESC) AS rg,
         NTILE(5) OVER (ORDER BY f) AS fg,
         NTILE(5) OVER (ORDER BY mo) AS mg
  FROM scored
)
SELECT 'r' AS measure, rg AS grp, MIN(rd) AS top, COUNT(*) AS n FROM ranked GROUP BY rg
UNION ALL SELECT 'f', fg, MAX(f), COUNT(*) FROM ranked GROUP BY fg
UNION ALL SELECT 'm', mg, MAX(mo), COUNT(*) FROM ranked GROUP BY mg
"""

# Beyond the measured part: $6 new_since (timestamp), $7 high score, $8 the run's day,
# $9..$12 recency cuts, $13..$16 frequency cuts, $17..$20 monetary cuts.
_CLASSIC = """CASE WHEN rs >= $7 AND fs >= $7 THEN '{0}_value'
                 WHEN rs >= $7 THEN '{0}_development'
                 WHEN fs >= $7 THEN '{0}_retention'
                 ELSE '{0}_winback' END"""
_SCORE = """
INSERT INTO member_rfm (member_id, recency_days, frequency, monetary_fen, r_score, f_score,
                        m_score, segment, first_purchase_at, last_purchase_at, computed_on)
WITH {measured}
SELECT member_id, rd, f, mo, rs, fs, ms,
       CASE WHEN last_at IS NULL THEN 'never_purchased'
            WHEN first_at >= $6 THEN 'new'
            WHEN ms >= $7 THEN {important}
            ELSE {general} END,
       first_at, last_at, {day}
FROM (
  SELECT member_id, first_at, last_at, rd, f, mo,
         CASE WHEN rd IS NULL THEN NULL WHEN rd <= $9 THEN 5 WHEN rd <= $10 THEN 4
              WHEN rd <= $11 THEN 3 WHEN rd <= $12 THEN 2 ELSE 1 END AS rs,
         CASE WHEN last_at IS NULL THEN NULL WHEN f >= $16 THEN 5 WHEN f >= $15 THEN 4
              WHEN f >= $14 THEN 3 WHEN f >= $13 THEN 2 ELSE 1 END AS fs,
         CASE WHEN last_at IS NULL THEN NULL WHEN mo >= $20 THEN 5 WHEN mo >= $19 THEN 4
              WHEN mo >= $18 THEN 3 WHEN mo >= $17 THEN 2 ELSE 1 END AS ms
  FROM (
    SELECT m.id AS member_id, a.first_at, a.last_at,
           CASE WHEN a.last_at IS NULL THEN NULL ELSE {recency} END AS rd,
           COALESCE(a.frequency, 0) AS f, COALESCE(a.monetary, 0) AS mo
    FROM members m LEFT JOIN agg a ON a.member_id = m.id
    WHERE m.id > $4 AND m.id <= $5 AND {holders}
  ) AS measured
) AS scored
WHERE member_id > $4
ON CONFLICT (member_id) DO UPDATE SET
  recency_days = excluded.recency_days, frequency = excluded.frequency,
  monetary_fen = excluded.monetary_fen, r_score = excluded.r_score,
  f_score = excluded.f_score, m_score = excluded.m_score, segment = excluded.segment,
  first_purchase_at = excluded.first_purchase_at, last_purchase_at = excluded.last_purchase_at,
  computed_on = excluded.computed_on
"""
# SQLite needs a WHERE in an upsert's SELECT (else `ON` could start a join): `member_id > $4`.


def statement(name: str, dialect: str) -> str:
    """The statement `cuts` or `score` for a dialect ("postgres" or "sqlite")."""
    kind = "postgres" if dialect == "postgres" else "sqlite"
    recency = _RECENCY.format(epoch=_EPOCH[kind].format("a.last_at"))
    if name == "cuts":
        sql = _CUTS.format(
            measured=_MEASURED.format(purchase_range=""), recency=recency, holders=_HOLDERS
        )
    elif name == "score":
        sql = _SCORE.format(
            measured=_MEASURED.format(purchase_range="AND p.member_id > $4 AND p.member_id <= $5"),
            recency=recency,
            holders=_HOLDERS,
            important=_CLASSIC.format("important"),
            general=_CLASSIC.format("general"),
            day=_DATE_PARAM[kind].format("$8"),
        )
    else:
        raise ValueError(name)
    if kind == "sqlite":
        sql = re.sub(r"\$(\d+)", r"?\1", sql)
    return sql


async def run(conn: BaseDBAsyncClient, name: str, args: list[Any]) -> list[dict[str, Any]]:
    """Run a statement on a connection; the rows it returns, as dicts."""
    sql = statement(name, conn.capabilities.dialect)
    if name == "score":
        await conn.execute_query(sql, args)
        return []
    _, found = await conn.execute_query(sql, args)
    return [dict(row) for row in found]
