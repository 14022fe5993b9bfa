"""Growth and tier brought along by a member moved in from another system.

The old system's current-period growth lands in this month's bucket, so it counts in the
current period and the evaluation at its end judges the member on it (no downgrade for a
member who had earned their tier); the rest of their lifetime growth lands in the month before
the current period starts, so it shows in `growth_total` and the ledger but never counts in a
period to come. The tier is set as given, never upgraded here (no upgrade gift for a tier
earned elsewhere), and recorded as an `import` tier change: a member whose tier changed after a
period closed is left alone by that period's evaluation, which they took no part in.
"""

from __future__ import annotations

from datetime import date, datetime

from handlers.tiers.periods import Period, current_period, month_key
from wxmember.core.context import Services
from wxmember.core.kernel import LockedMember, insert_once
from wxmember.core.models.growth import GrowthEntry
from wxmember.core.models.members import Member
from wxmember.core.models.tier_history import TierChange, TierChangeReason
from wxmember.core.models.tiers import Tier
from wxmember.core.prepared import placeholders

IMPORT_REASON = "import"

_ADD_TO_MONTH = """
INSERT INTO "member_period_growth" ("member_id", "period", "total") VALUES ($1, $2, $3)
ON CONFLICT ("member_id", "period") DO UPDATE
SET "total" = "member_period_growth"."total" + excluded."total"
"""


def month_before(period: Period) -> str:
    """The bucket of the month before the period: counted in no period still to be judged."""
    first = period.start
    return month_key(date(first.year - (first.month == 1), (first.month - 2) % 12 + 1, 1))


async def seed_growth(
    services: Services,
    account: LockedMember,
    *,
    lifetime: int,
    current: int,
    today: date,
    now: datetime,
    key: str,
) -> None:
    """Record imported growth: `current` in this period, the rest of `lifetime` before it.

    Idempotent by `key` (one growth entry per part, `{key}:period` and `{key}:earlier`).
    """
    conn, row = account.conn, account.row
    period = current_period(services.config.tiers.period, today)
    parts = (
        (current, month_key(today), f"{key}:period"),
        (lifetime - current, month_before(period), f"{key}:earlier"),
    )
    added = 0
    for amount, month, part_key in parts:
        if amount <= 0:
            continue
        entry = await insert_once(
            GrowthEntry,
            conn,
            member_id=row.id,
            amount=amount,
            reason=IMPORT_REASON,
            reference=None,
            idempotency_key=part_key,
            period=month,
            created_at=now,
        )
        if entry is None:
            continue
        await conn.execute_query(placeholders(conn, _ADD_TO_MONTH), [row.id, month, amount])
        added += amount
    if added:
        row.growth_total += added
        await Member.filter(id=row.id).using_db(conn).update(growth_total=row.growth_total)


async def record_imported_tier(
    account: LockedMember, tier: Tier, growth: int, now: datetime
) -> None:
    """The `import` tier change of a member who arrived in `tier`."""
    await TierChange.create(
        member_id=account.id,
        from_tier_id=None,
        to_tier_id=tier.id,
        from_name="",
        to_name=tier.name,
        reason=TierChangeReason.IMPORT,
        growth=growth,
        created_at=now,
        using_db=account.conn,
    )
