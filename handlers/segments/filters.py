"""A saved segment's filter compiled into one SQL statement over `members`, for both dialects.

The statement selects live card holders (a card number, no deleted account) and adds one
condition per criterion, each on an indexed column or through an `EXISTS` on an index that
starts with the member:

- tier, points balance, birthday month, card opened: columns of `members` (the birthday month
  and card-opened columns are indexed);
- RFM segment and scores: one `EXISTS` on `member_rfm` (unique on the member), the row of the
  latest run;
- purchases (last purchase, count and amount): one grouped subquery over `pos_purchases`
  (read in member order from the index member, time, amount, refunded, which holds every
  column it needs), its `HAVING` the criteria, joined to the members: lifetime figures, net
  of refunds (`amount_fen - refunded_fen`, the till's running total), a purchase refunded in
  full not counted. Chosen over the RFM row because it is live (a refund at the till counts
  at once) and not bound to the RFM window, so "bought more than 10 times" means ever.
  Members who never bought have count 0, amount 0 and no last purchase (so no "last purchase
  before/after" matches them): when the criteria let such members in, the subquery keeps the
  buyers who fail them instead, and the members without a row there are selected;
- store: an `EXISTS` on the member's purchases (index member, id) at one of the stores, not
  refunded in full;
- follows the Official Account: an `EXISTS` on a linked follower (index on the member) who is
  subscribed (`false`: no such follower);
- subscribe grant: an `EXISTS` on the grant of that template (unique member, template) with
  messages left;
- tags: `EXISTS` (any), a count of the wanted tags equal to their number (all, each pair
  unique) and `NOT EXISTS` (none), on `member_tags` (unique member, tag).

Parameters are written `$n` and become `?n` on SQLite (`placeholders`). The dialects differ only
in how a list is passed (`= ANY($n::int[])` against `IN (SELECT value FROM json_each($n))`) and
in the form of a timestamp parameter (a datetime, or the text SQLite stores): both here.
No member passes through Python to be judged.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.backends.base.client import BaseDBAsyncClient

from handlers.segments.criteria import Criteria
from wxmember.core.localtime import local_midnight
from wxmember.core.models import Member
from wxmember.core.prepared import db_moment, placeholders

LIVE = "m.card_no IS NOT NULL AND m.deleted_at IS NULL"
# Purchases not refunded in full, per member; `{having}` says which members are kept.
_BUYERS = (
    "SELECT member_id FROM pos_purchases WHERE amount_fen > refunded_fen{range}"
    " GROUP BY member_id HAVING {having}"
)


@dataclass
class _Builder:
    dialect: str
    tz: ZoneInfo
    params: list[Any] = field(default_factory=list)
    conditions: list[str] = field(default_factory=lambda: [LIVE])

    def param(self, value: Any) -> str:
        self.params.append(value)
        return f"${len(self.params)}"

    def any_of(self, values: list[Any], kind: str) -> str:
        """` = ANY($n::int[])` or ` IN (SELECT value FROM json_each($n))`."""
        if self.dialect == "postgres":
            return f" = ANY({self.param(list(values))}::{kind}[])"
        return f" IN (SELECT value FROM json_each({self.param(json.dumps(list(values)))}))"

    def moment(self, day: date, *, next_day: bool) -> str:
        """The local midnight starting `day` (or the day after), as this dialect compares it."""
        start = local_midnight(day + timedelta(days=1) if next_day else day, self.tz)
        if self.dialect == "postgres":
            return self.param(start)
        return self.param(db_moment(Member, "card_opened_at", start))

    def between(self, column: str, low: int | None, high: int | None) -> None:
        if low is not None:
            self.conditions.append(f"{column} >= {self.param(low)}")
        if high is not None:
            self.conditions.append(f"{column} <= {self.param(high)}")


@dataclass(frozen=True)
class Compiled:
    """The `FROM ... WHERE ...` of a filter (alias `m` for members), the `WITH` before its
    `SELECT` (the purchase criteria's buyers, or nothing) and its parameters."""

    source: str
    where: str
    params: list[Any]
    head: str = ""


def _uses_purchases(criteria: Criteria) -> bool:
    return any(
        value is not None
        for value in (
            criteria.last_purchase_after,
            criteria.last_purchase_before,
            criteria.purchase_count,
            criteria.purchase_amount_fen,
        )
    )


def compile_filter(
    criteria: Criteria, dialect: str, tz: ZoneInfo, *, id_range: bool = False
) -> Compiled:
    """The filter as SQL; with `id_range`, `$1 < m.id <= $2` as well (the first parameters)."""
    b = _Builder("postgres" if dialect == "postgres" else "sqlite", tz)
    source = "members m"
    if id_range:
        low, high = b.param(0), b.param(0)
        b.conditions.append(f"m.id > {low} AND m.id <= {high}")
        purchase_range = f" AND member_id > {low} AND member_id <= {high}"
    else:
        purchase_range = ""
    if criteria.tier_ids:
        b.conditions.append("m.tier_id" + b.any_of(criteria.tier_ids, "int"))
    if criteria.points_balance:
        b.between("m.points_balance", criteria.points_balance.min, criteria.points_balance.max)
    if criteria.birth_months:
        b.conditions.append("m.birth_month" + b.any_of(criteria.birth_months, "int"))
    if criteria.card_opened_after:
        after = b.moment(criteria.card_opened_after, next_day=True)
        b.conditions.append(f"m.card_opened_at >= {after}")
    if criteria.card_opened_before:
        before = b.moment(criteria.card_opened_before, next_day=False)
        b.conditions.append(f"m.card_opened_at < {before}")
    _rfm(b, criteria)
    head = ""
    if _uses_purchases(criteria):
        buyers, join = _purchases(b, criteria, purchase_range)
        # PostgreSQL runs a materialised CTE once: inlined, a parallel plan would aggregate
        # every purchase again in each of its workers
        materialized = "MATERIALIZED " if b.dialect == "postgres" else ""
        head = f"WITH p AS {materialized}({buyers}) "
        source += " " + join
    if criteria.stores:
        b.conditions.append(
            "EXISTS (SELECT 1 FROM pos_purchases s WHERE s.member_id = m.id"
            " AND s.amount_fen > s.refunded_fen AND s.store"
            + b.any_of(criteria.stores, "text")
            + ")"
        )
    if criteria.follows_official_account is not None:
        follows = "EXISTS (SELECT 1 FROM bot_followers f WHERE f.member_id = m.id AND f.subscribed)"
        b.conditions.append(follows if criteria.follows_official_account else f"NOT {follows}")
    if criteria.subscribe_template_id:
        b.conditions.append(
            "EXISTS (SELECT 1 FROM subscribe_grants g WHERE g.member_id = m.id"
            f" AND g.template_id = {b.param(criteria.subscribe_template_id)} AND g.remaining > 0)"
        )
    _tags(b, criteria)
    return Compiled(source, " AND ".join(b.conditions), b.params, head)


def _purchases(b: _Builder, criteria: Criteria, purchase_range: str) -> tuple[str, str]:
    """The join that applies the purchase criteria (one grouped subquery, no per-member
    query). When the criteria exclude members who never bought, the members are joined to the
    buyers who meet them; when they do not (at most 2 purchases, say), to the buyers who fail
    them, keeping the members with no such row."""
    having: list[str] = []
    if criteria.last_purchase_after:
        after = b.moment(criteria.last_purchase_after, next_day=True)
        having.append(f"MAX(created_at) >= {after}")
    if criteria.last_purchase_before:
        before = b.moment(criteria.last_purchase_before, next_day=False)
        having.append(f"MAX(created_at) < {before}")
    for column, wanted in (
        ("COUNT(*)", criteria.purchase_count),
        ("SUM(amount_fen - refunded_fen)", criteria.purchase_amount_fen),
    ):
        if wanted is not None:
            if wanted.min is not None:
                having.append(f"{column} >= {b.param(wanted.min)}")
            if wanted.max is not None:
                having.append(f"{column} <= {b.param(wanted.max)}")
    condition = " AND ".join(having)
    if _never_bought_may_match(criteria):
        failing = _BUYERS.format(range=purchase_range, having=f"NOT ({condition})")
        b.conditions.append("p.member_id IS NULL")
        return failing, "LEFT JOIN p ON p.member_id = m.id"
    meeting = _BUYERS.format(range=purchase_range, having=condition)
    return meeting, "JOIN p ON p.member_id = m.id"


def _never_bought_may_match(criteria: Criteria) -> bool:
    """Whether a member who never bought (no purchase, count 0, amount 0) meets the purchase
    criteria."""
    if criteria.last_purchase_after or criteria.last_purchase_before:
        return False
    return all(
        wanted is None or not wanted.min
        for wanted in (criteria.purchase_count, criteria.purchase_amount_fen)
    )


def _rfm(b: _Builder, criteria: Criteria) -> None:
    parts: list[str] = []
    if criteria.rfm_segments:
        parts.append("r.segment" + b.any_of([str(s) for s in criteria.rfm_segments], "text"))
    for column, wanted in (
        ("r.r_score", criteria.r_score),
        ("r.f_score", criteria.f_score),
        ("r.m_score", criteria.m_score),
    ):
        if wanted is not None:
            if wanted.min is not None:
                parts.append(f"{column} >= {b.param(wanted.min)}")
            if wanted.max is not None:
                parts.append(f"{column} <= {b.param(wanted.max)}")
    if parts:
        b.conditions.append(
            "EXISTS (SELECT 1 FROM member_rfm r WHERE r.member_id = m.id AND "
            + " AND ".join(parts)
            + ")"
        )


def _tags(b: _Builder, criteria: Criteria) -> None:
    if criteria.tags_any:
        b.conditions.append(
            "EXISTS (SELECT 1 FROM member_tags t WHERE t.member_id = m.id AND t.tag_id"
            + b.any_of(criteria.tags_any, "int")
            + ")"
        )
    if criteria.tags_all:
        b.conditions.append(
            "(SELECT COUNT(*) FROM member_tags t WHERE t.member_id = m.id AND t.tag_id"
            + b.any_of(criteria.tags_all, "int")
            + f") = {b.param(len(criteria.tags_all))}"
        )
    if criteria.tags_none:
        b.conditions.append(
            "NOT EXISTS (SELECT 1 FROM member_tags t WHERE t.member_id = m.id AND t.tag_id"
            + b.any_of(criteria.tags_none, "int")
            + ")"
        )


def count_text(compiled: Compiled) -> str:
    """How many members the filter selects, written with `$n` (PostgreSQL's text)."""
    return f"{compiled.head}SELECT COUNT(*) AS n FROM {compiled.source} WHERE {compiled.where}"


def count_sql(conn: BaseDBAsyncClient, compiled: Compiled) -> str:
    """How many members the filter selects."""
    return placeholders(conn, count_text(compiled))


def sample_sql(conn: BaseDBAsyncClient, compiled: Compiled, limit: int) -> str:
    """The newest `limit` members the filter selects, with their tier."""
    return placeholders(
        conn,
        f"{compiled.head}SELECT m.id, m.card_no, m.name, m.phone_enc, m.card_opened_at,"
        " tier.id AS tier_id, tier.name AS tier_name, tier.level AS tier_level,"
        " tier.color AS tier_color"
        f" FROM {compiled.source} LEFT JOIN tiers tier ON tier.id = m.tier_id"
        f" WHERE {compiled.where} ORDER BY m.id DESC LIMIT {int(limit)}",
    )


def ids_sql(conn: BaseDBAsyncClient, compiled: Compiled) -> str:
    """The ids the filter selects in the id range of the first two parameters, ascending."""
    return placeholders(
        conn,
        f"{compiled.head}SELECT m.id FROM {compiled.source} WHERE {compiled.where} ORDER BY m.id",
    )
