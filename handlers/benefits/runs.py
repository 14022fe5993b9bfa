"""What a run of a benefit job did, and the shared steps of both jobs."""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from tortoise.queryset import QuerySet

from handlers.benefits.grants import claim, pay, pay_claimed
from wxmember.core.context import Services
from wxmember.core.kernel import continue_after
from wxmember.core.models import Member, Tier
from wxmember.core.models.benefits import BenefitGrant, BenefitKind, GrantState

ShouldStop = Callable[[], Awaitable[bool]]
DEFAULT_BATCH = 500


@dataclass
class BenefitReport:
    """One run: the occasion, rows claimed, outcomes of the payments, and how it ended.

    status: finished, stopped (asked to stop; the next run resumes), already_finished (the
    month's run had finished before) or nothing_to_pay (no tier gives this benefit).
    """

    kind: str
    occasion: str
    status: str = "finished"
    claimed: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "occasion": self.occasion,
            "status": self.status,
            "claimed": self.claimed,
            "outcomes": dict(self.outcomes),
        }


async def pay_left_over(
    services: Services, kind: BenefitKind, should_stop: ShouldStop | None = None
) -> Counter[str]:
    """Pay rows of this kind left claimed by a run that ended early (a crash, a restart).

    A row still being paid by another worker may be paid here too: every item is idempotent.
    """
    outcomes: Counter[str] = Counter()
    after = 0
    while True:
        rows = await (
            BenefitGrant.filter(state=GrantState.CLAIMED, kind=kind, id__gt=after)
            .order_by("id")
            .limit(DEFAULT_BATCH)
        )
        for row in rows:
            if should_stop is not None and await should_stop():
                return outcomes
            outcomes[(await pay(services, row)).value] += 1
        if len(rows) < DEFAULT_BATCH:
            return outcomes
        after = rows[-1].id


async def pay_next_batch(
    services: Services,
    kind: BenefitKind,
    report: BenefitReport,
    day: date,
    members: QuerySet[Member],
    after_id: int,
    batch_size: int,
    tiers: dict[int, Tier],
) -> list[Member]:
    """Claim and pay the grants of the next `batch_size` members after `after_id`, in id order;
    those members (fewer than `batch_size`: the last batch)."""
    batch = await (
        continue_after(members, after_id, newest_first=False).order_by("id").limit(batch_size)
    )
    report.claimed += await claim(services, kind, report.occasion, day, batch, tiers)
    report.outcomes.update(
        await pay_claimed(services, kind, report.occasion, [member.id for member in batch])
    )
    return batch
