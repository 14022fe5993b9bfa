"""Growth and tier brought along by members moved in from another system.

The old system's current-period growth lands in this month's bucket, so it counts in the
current period and the evaluation at its end judges the member on it (no downgrade for a
member who had earned their tier); the rest of their lifetime growth lands in the month before
the current period starts, so it shows in `growth_total` and the ledger but never counts in a
period to come. The tier is set as given, never upgraded here (no upgrade gift for a tier
earned elsewhere), and recorded as an `import` tier change: a member whose tier changed after a
period closed is left alone by that period's evaluation, which they took no part in.

Both run set-based, for a whole batch of members created in the caller's transaction (one
multi-row insert per table), see handlers/member_import/apply.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from tortoise.backends.base.client import BaseDBAsyncClient

from handlers.tiers.periods import Period, current_period, month_key
from wxmember.core.context import Services
from wxmember.core.models.growth import GrowthEntry, MemberPeriodGrowth
from wxmember.core.models.tier_history import TierChange, TierChangeReason
from wxmember.core.models.tiers import Tier
from wxmember.core.prepared import InsertRows, ids_in, placeholders

IMPORT_REASON = "import"

_INSERT_ENTRIES = InsertRows(GrowthEntry, skip_taken=True)
_ADD_TO_MONTHS = InsertRows(
    MemberPeriodGrowth,
    on_conflict='("member_id", "period") DO UPDATE '
    'SET "total" = "member_period_growth"."total" + excluded."total"',
)
_INSERT_CHANGES = InsertRows(TierChange)
# The growth total of a new member is what their growth ledger holds.
_TOTAL = """
UPDATE "members" SET "growth_total" = (
    SELECT COALESCE(SUM("amount"), 0) FROM "growth_entries"
    WHERE "growth_entries"."member_id" = "members"."id"
)
WHERE "id" {ids} AND "growth_total" = 0
"""


@dataclass(frozen=True)
class ImportedGrowth:
    """One new member's growth from the old system: `lifetime` in all, `current` of it in the
    current period, recorded under `{key}:period` and `{key}:earlier`."""

    member_id: int
    lifetime: int
    current: int
    key: str


@dataclass(frozen=True)
class ImportedTier:
    """The tier one new member arrived in, with the period growth that earned it."""

    member_id: int
    tier: Tier
    growth: int


def month_before(period: Period) -> str:
    """The bucket of the month before the period: counted in no period still to be judged."""
    first = period.start
    return month_key(date(first.year - (first.month == 1), (first.month - 2) % 12 + 1, 1))


async def seed_growth(
    services: Services,
    conn: BaseDBAsyncClient,
    members: Sequence[ImportedGrowth],
    *,
    today: date,
    now: datetime,
) -> None:
    """Record imported growth of members created in `conn`'s transaction: `current` in this
    period, the rest of `lifetime` before it (module docstring).

    Idempotent by key (one growth entry per part): a part whose key is taken adds nothing.
    """
    period = current_period(services.config.tiers.period, today)
    months = {"period": month_key(today), "earlier": month_before(period)}
    parts = [
        {
            "member_id": member.member_id,
            "amount": amount,
            "reason": IMPORT_REASON,
            "reference": None,
            "idempotency_key": f"{member.key}:{part}",
            "period": months[part],
            "created_at": now,
        }
        for member in members
        for part, amount in (
            ("period", member.current),
            ("earlier", member.lifetime - member.current),
        )
        if amount > 0
    ]
    if not parts:
        return
    await _INSERT_ENTRIES.insert(conn, parts)
    written = await (
        GrowthEntry.filter(idempotency_key__in=[part["idempotency_key"] for part in parts])
        .using_db(conn)
        .values_list("idempotency_key", "member_id")
    )
    owners = dict(written)
    # A new member has no growth entry but the ones just written: a key another member holds
    # was written before, and its part is skipped.
    added = [part for part in parts if owners.get(part["idempotency_key"]) == part["member_id"]]
    if not added:
        return
    await _ADD_TO_MONTHS.insert(
        conn,
        [
            {"member_id": part["member_id"], "period": part["period"], "total": part["amount"]}
            for part in added
        ],
    )
    ids, parameter = ids_in(conn, sorted({owners[part["idempotency_key"]] for part in added}))
    await conn.execute_query(placeholders(conn, _TOTAL.format(ids=ids)), [parameter])


async def record_imported_tiers(
    conn: BaseDBAsyncClient, members: Sequence[ImportedTier], now: datetime
) -> None:
    """The `import` tier change of each member who arrived in a tier."""
    await _INSERT_CHANGES.insert(
        conn,
        [
            {
                "member_id": member.member_id,
                "from_tier_id": None,
                "to_tier_id": member.tier.id,
                "from_name": "",
                "to_name": member.tier.name,
                "reason": TierChangeReason.IMPORT,
                "growth": member.growth,
                "created_at": now,
            }
            for member in members
        ],
    )
