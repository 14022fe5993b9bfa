"""Tiers and growth: growth in, upgrades at once, the multiplier, operator moves, the tier view.

Growth of the current period (handlers/tiers/periods.py) decides upgrades, and growth of a closed
period decides retention at its evaluation (handlers/tiers/evaluation.py); `growth_total` on the
member is the lifetime running total, for display. An upgrade happens in the transaction that
adds the growth; a downgrade only at an evaluation. Every tier change bumps the member's
`card_version` (the card face shows the tier) and writes a TierChange row.

The ladder itself (rules, benefits, operator CRUD) lives in handlers/tiers/ladder.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import F

from handlers import audit, points
from handlers.points.entries import check
from handlers.tiers.eligibility import member_tier
from handlers.tiers.evaluation import EvaluationReport, evaluate_tiers
from handlers.tiers.periods import Period, current_period, month_key
from wxmember.core.context import Services
from wxmember.core.errors import (
    Conflict,
    IdempotencyKeyReused,
    TierNotFound,
    UpstreamUnavailable,
)
from wxmember.core.kernel import LockedMember, MemberRef, continue_after, member_lock
from wxmember.core.localtime import local_today
from wxmember.core.models.growth import GrowthEntry, MemberPeriodGrowth
from wxmember.core.models.members import Member
from wxmember.core.models.operators import Operator
from wxmember.core.models.tier_history import EvaluationRun, TierChange, TierChangeReason
from wxmember.core.models.tiers import Tier
from wxmember.core.prepared import (
    InsertRow,
    RowsBy,
    placeholders,
    read_rows,
    saved,
    shifted,
)

__all__ = [
    "EvaluationReport",
    "GrowthResult",
    "TierOverview",
    "add_growth",
    "entry_tier",
    "evaluate_tiers",
    "evaluation_runs",
    "move_member",
    "multiplier_percent",
    "period_growth",
    "tier_changes",
    "tier_overview",
]

UPGRADE_GIFT_REASON = "tier_upgrade"

_LADDER = RowsBy(Tier, order=["level"])
_PERIOD_GROWTH = """
SELECT COALESCE(SUM("total"), 0) FROM "member_period_growth"
WHERE "member_id" = $1 AND "period" >= $2 AND "period" <= $3
"""
_ADD_TO_TOTAL = 'UPDATE "members" SET "growth_total" = "growth_total" + $1 WHERE "id" = $2'


@dataclass(frozen=True)
class GrowthResult:
    """What `add_growth` did: the ledger row and the member's standing after it."""

    entry: GrowthEntry
    replayed: bool
    growth_total: int
    period_growth: int
    tier_id: int | None
    upgrade: TierChange | None = None

    @property
    def upgraded(self) -> bool:
        return self.upgrade is not None


async def entry_tier(using_db: BaseDBAsyncClient | None = None) -> Tier:
    """The lowest tier, where cards start; 503 `no_tier_configured` while the ladder is empty."""
    tier = await Tier.all().using_db(using_db).order_by("level").first()
    if tier is None:
        raise UpstreamUnavailable(
            "Member cards cannot be opened yet: no tier is configured.", code="no_tier_configured"
        )
    return tier


async def multiplier_percent(member: Member, using_db: BaseDBAsyncClient | None = None) -> int:
    """The points multiplier of the member's tier in percent (100 = x1; no tier: 100)."""
    tier = await member_tier(member, using_db)
    return 100 if tier is None else tier.multiplier_percent


async def period_growth(
    member_id: int, period: Period, using_db: BaseDBAsyncClient | None = None
) -> int:
    """A member's net growth over the twelve months of a period."""
    conn = using_db or MemberPeriodGrowth._meta.db
    parameters = [member_id, period.first_month, period.last_month]
    rows = await read_rows(conn, placeholders(conn, _PERIOD_GROWTH), parameters)
    return int(rows[0][0])


async def add_growth(
    services: Services,
    member: MemberRef,
    amount: int,
    *,
    reason: str,
    idempotency_key: str,
    reference: str | None = None,
) -> GrowthResult:
    """Record growth (negative for refunds) and upgrade at once if the period growth allows.

    Takes a member id (one transaction of its own) or the caller's `LockedMember`: the member
    row lock serialises every growth change of this member.
    """
    check(amount, reason, idempotency_key, reference, signed=True, ledger=GrowthEntry)
    now = services.clock.now()
    today = local_today(services)
    period = current_period(services.config.tiers.period, today)
    async with member_lock(member) as account:
        conn, row = account.conn, account.row
        entry, values = _INSERT_ENTRY.parameters(
            conn,
            member_id=row.id,
            amount=amount,
            reason=reason,
            reference=reference,
            idempotency_key=idempotency_key,
            period=month_key(today),
            created_at=now,
        )
        if conn.capabilities.dialect == "postgres":
            growth = await _add_at_once(conn, entry, values, period)
        else:
            growth = await _add_step_by_step(conn, entry, values, period)
        if growth is None:
            # Written before under this key: the same change again, or another one (a 409).
            existing = await GrowthEntry.get(idempotency_key=idempotency_key, using_db=conn)
            if existing.member_id != row.id or existing.amount != amount:
                raise _key_reused()
            growth = await period_growth(row.id, period, conn)
            return GrowthResult(existing, True, row.growth_total, growth, row.tier_id)
        row.growth_total += amount
        upgrade = None
        if amount > 0 and row.tier_id is not None:
            upgrade = await _upgrade(services, account, growth)
        return GrowthResult(entry, False, row.growth_total, growth, row.tier_id, upgrade)


_INSERT_ENTRY = InsertRow(GrowthEntry, skip_taken=True)
# The month's bucket is written by its first change and added to by the others: one statement.
_MONTH_BUCKET = 'INSERT INTO "member_period_growth" ("member_id", "period", "total")'
_MONTH_CONFLICT = """
ON CONFLICT ("member_id", "period") DO UPDATE
SET "total" = "member_period_growth"."total" + excluded."total"
"""
_ADD_TO_MONTH = f"{_MONTH_BUCKET} VALUES ($1, $2, $3) {_MONTH_CONFLICT}"
_ADD_TO_MONTH_OF_NEW_ENTRY = f"{_MONTH_BUCKET} SELECT $1, $2, $3 FROM entry {_MONTH_CONFLICT}"


async def _add_step_by_step(
    conn: BaseDBAsyncClient, entry: GrowthEntry, values: list[Any], period: Period
) -> int | None:
    """Growth's writes one statement after another (SQLite, where a statement costs no round
    trip): the entry, the member's total, the month's bucket; the period's growth after them,
    or None when the entry's key is taken."""
    if await _INSERT_ENTRY.write(conn, entry, values) is None:
        return None
    member_id, amount = entry.member_id, entry.amount
    await conn.execute_query(placeholders(conn, _ADD_TO_TOTAL), [amount, member_id])
    await conn.execute_query(placeholders(conn, _ADD_TO_MONTH), [member_id, entry.period, amount])
    return await period_growth(member_id, period, conn)


async def _add_at_once(
    conn: BaseDBAsyncClient, entry: GrowthEntry, values: list[Any], period: Period
) -> int | None:
    """`_add_step_by_step` in one PostgreSQL statement, which writes nothing when the entry's key
    is taken. Its parts read the rows as they were before it, so the period's growth after it
    is the sum it reads plus the amount."""
    sql = _ADD_AT_ONCE.get("postgres")
    if sql is None:
        # The entry's parameters, then `_ADD_TO_TOTAL`'s two, the month's three, the period's three.
        written, width = _INSERT_ENTRY.within(conn, "entry")
        total = shifted(_ADD_TO_TOTAL, width) + " AND EXISTS (SELECT 1 FROM entry)"
        month = _ADD_TO_MONTH_OF_NEW_ENTRY
        sql = _ADD_AT_ONCE["postgres"] = (
            f"WITH {written}, total AS ({total}), month AS ({shifted(month, width + 2)}) "
            f'SELECT "id", ({shifted(_PERIOD_GROWTH, width + 5)}) FROM entry'
        )
    member_id, amount = entry.member_id, entry.amount
    rows = await read_rows(
        conn,
        sql,
        [
            *values,
            amount,
            member_id,
            member_id,
            entry.period,
            amount,
            member_id,
            period.first_month,
            period.last_month,
        ],
    )
    if not rows:
        return None
    key, before = rows[0]
    saved(entry, key)
    return int(before) + amount


_ADD_AT_ONCE: dict[str, str] = {}  # built at first use, from the models' columns


def _key_reused() -> IdempotencyKeyReused:
    return IdempotencyKeyReused("This idempotency key was used for another change.")


async def _upgrade(services: Services, account: LockedMember, growth: int) -> TierChange | None:
    """Move the member to the highest tier their period growth reaches, if above their own."""
    conn, member = account.conn, account.row
    ladder = await _LADDER.all(conn)
    current = next((t for t in ladder if t.id == member.tier_id), None)
    reached = [t for t in ladder if t.growth_threshold <= growth]
    if current is None or not reached or reached[-1].level <= current.level:
        return None
    target = reached[-1]
    moved = (
        await Member.filter(id=member.id, tier_id=current.id)
        .using_db(conn)
        .update(tier_id=target.id, card_version=F("card_version") + 1)
    )
    if moved != 1:
        return None
    member.tier_id = target.id
    member.card_version += 1
    change = await TierChange.create(
        member_id=member.id,
        from_tier_id=current.id,
        to_tier_id=target.id,
        from_name=current.name,
        to_name=target.name,
        reason=TierChangeReason.UPGRADE,
        growth=growth,
        created_at=services.clock.now(),
        using_db=conn,
    )
    gifts = [t for t in reached if t.level > current.level and t.upgrade_gift_points > 0]
    for tier in gifts:
        # Once per member and tier for life: a member who drops and climbs back gets no more.
        await points.earn(
            services,
            account,
            tier.upgrade_gift_points,
            reason=UPGRADE_GIFT_REASON,
            idempotency_key=f"tier-upgrade:{member.id}:{tier.id}",
            reference=f"tier:{tier.id}",
        )
    return change


async def move_member(
    services: Services, actor: Operator, member_id: int, tier_id: int, *, note: str = ""
) -> TierChange:
    """An operator puts a member in a tier (up or down); audited, the card is redrawn."""
    async with member_lock(member_id) as account:
        conn, member = account.conn, account.row.require_card()
        target = await Tier.filter(id=tier_id).using_db(conn).first()
        if target is None:
            raise TierNotFound()
        if target.id == member.tier_id:
            raise Conflict("The member is already in this tier.", code="already_in_tier")
        current = await Tier.filter(id=member.tier_id).using_db(conn).get()
        await (
            Member.filter(id=member_id)
            .using_db(conn)
            .update(tier_id=target.id, card_version=F("card_version") + 1)
        )
        change = await TierChange.create(
            member_id=member_id,
            from_tier_id=current.id,
            to_tier_id=target.id,
            from_name=current.name,
            to_name=target.name,
            reason=TierChangeReason.OPERATOR,
            operator=actor,
            note=note,
            created_at=services.clock.now(),
            using_db=conn,
        )
        await audit.record(
            actor,
            "member.tier_move",
            "member",
            member_id,
            before={"tier_id": current.id, "tier": current.name},
            after={"tier_id": target.id, "tier": target.name, "note": note},
            using_db=conn,
        )
    return change


@dataclass(frozen=True)
class TierOverview:
    """The tier view of one member: the ladder, where they stand, what is next."""

    tiers: list[Tier]
    current: Tier | None
    next_tier: Tier | None
    period: Period
    period_growth: int
    growth_total: int
    growth_to_next: int | None
    growth_to_retain: int
    next_evaluation: date


async def tier_overview(services: Services, member: Member) -> TierOverview:
    """The ladder with benefits, the member's tier, growth this period and what it takes next."""
    today = local_today(services)
    period = current_period(services.config.tiers.period, today)
    ladder = await services.members.shared("tier-ladder", lambda: Tier.all().order_by("level"))
    growth = await services.members.derived(
        member.id, f"period-growth:{period.first_month}", lambda: period_growth(member.id, period)
    )
    current = next((t for t in ladder if t.id == member.tier_id), None)
    higher = [t for t in ladder if current is not None and t.level > current.level]
    next_tier = higher[0] if higher else None
    return TierOverview(
        tiers=ladder,
        current=current,
        next_tier=next_tier,
        period=period,
        period_growth=growth,
        growth_total=member.growth_total,
        growth_to_next=max(0, next_tier.growth_threshold - growth) if next_tier else None,
        growth_to_retain=max(0, current.retention_threshold - growth) if current else 0,
        next_evaluation=period.evaluation_date,
    )


async def tier_changes(
    member_id: int | None, before_id: int | None, limit: int
) -> list[TierChange]:
    """Tier history, newest first, `limit + 1` rows so the caller knows if a page follows."""
    query = TierChange.all().order_by("-id")
    if member_id is not None:
        query = query.filter(member_id=member_id)
    query = continue_after(query, before_id)
    return await query.limit(limit + 1)


async def evaluation_runs(before_id: int | None, limit: int) -> list[EvaluationRun]:
    """Evaluation runs, newest first, `limit + 1` rows."""
    query = EvaluationRun.all().order_by("-id")
    query = continue_after(query, before_id)
    return await query.limit(limit + 1)
