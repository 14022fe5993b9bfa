"""Claiming and paying tier benefit grants: at most once per member, benefit and occasion.

Claim: one `benefit_grants` row per (member, kind, occasion), inserted with ON CONFLICT DO
NOTHING before anything is paid; the gifts to pay (`items`) are fixed in the row from the tier
the member holds at that moment.

Pay, per claimed row: each item goes through the points ledger or coupon issuing under its own
idempotency key (`tier-benefit:birthday:{member}:{year}:{n}`, `tier-benefit:monthly:{member}:
{YYYY-MM}:{n}`), so two workers paying the same row, or a retry after a crash, give each item
once. A refused item (template stopped, sold out or expired, member deleted) is recorded in
`failures` and the row ends `failed`: it is not retried.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from datetime import date
from typing import Any

from handlers import coupons, points
from handlers.tiers.ladder import benefits_of_kind
from wxmember.core.context import Services
from wxmember.core.errors import DomainError
from wxmember.core.models import Member, Tier
from wxmember.core.models.benefits import BenefitGrant, BenefitKind, GrantState

log = logging.getLogger(__name__)

REASONS = {
    BenefitKind.BIRTHDAY_GIFT: "tier_birthday_gift",
    BenefitKind.MONTHLY_COUPONS: "tier_monthly_coupons",
}
_KEY_NAMES = {BenefitKind.BIRTHDAY_GIFT: "birthday", BenefitKind.MONTHLY_COUPONS: "monthly"}


def items_of(tier: Tier, kind: BenefitKind) -> list[dict[str, int]]:
    """What a tier's benefits of one kind give: one item per points amount or coupon."""
    items: list[dict[str, int]] = []
    for benefit in benefits_of_kind(tier, kind.value):
        if kind is BenefitKind.BIRTHDAY_GIFT:
            if benefit.get("points"):
                items.append({"points": int(benefit["points"])})
            if benefit.get("coupon_template_id"):
                items.append({"template_id": int(benefit["coupon_template_id"])})
            continue
        for pack in benefit.get("coupons", []):
            items.extend({"template_id": int(pack["template_id"])} for _ in range(pack["count"]))
    return items


def tiers_giving(ladder: Sequence[Tier], kind: BenefitKind) -> dict[int, Tier]:
    """The tiers of the ladder that have something to give of this kind, by id."""
    return {tier.id: tier for tier in ladder if items_of(tier, kind)}


def payment_key(kind: BenefitKind, member_id: int, occasion: str, index: int) -> str:
    """The idempotency key of one item of one grant (points ledger or coupon issuing)."""
    return f"tier-benefit:{_KEY_NAMES[kind]}:{member_id}:{occasion}:{index}"


async def claim(
    services: Services,
    kind: BenefitKind,
    occasion: str,
    day: date,
    members: Sequence[Member],
    tiers: dict[int, Tier],
) -> int:
    """Insert a claimed row for each member whose tier gives something; how many were new."""
    now = services.clock.now()
    candidates = [m for m in members if m.tier_id is not None and m.tier_id in tiers]
    if not candidates:
        return 0
    taken = set(
        await BenefitGrant.filter(
            kind=kind, occasion=occasion, member_id__in=[m.id for m in candidates]
        ).values_list("member_id", flat=True)
    )
    rows = []
    for member in candidates:
        if member.id in taken:
            continue
        tier = tiers[member.tier_id]  # type: ignore[index]  # filtered above
        rows.append(
            BenefitGrant(
                member_id=member.id,
                kind=kind,
                occasion=occasion,
                day=day,
                tier_id=tier.id,
                tier_name=tier.name,
                items=items_of(tier, kind),
                created_at=now,
                updated_at=now,
            )
        )
    if rows:
        # A concurrent claimer may insert the same keys first: the database keeps one row.
        await BenefitGrant.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


async def pay(services: Services, row: BenefitGrant) -> GrantState:
    """Pay every item of a claimed row, each once; the state the row ends in."""
    reason = REASONS[BenefitKind(row.kind)]
    paid: list[dict[str, Any]] = []
    failures: list[dict[str, Any]] = []
    for index, item in enumerate(row.items):
        key = payment_key(BenefitKind(row.kind), row.member_id, row.occasion, index)
        try:
            if "points" in item:
                entry = await points.earn(
                    services, row.member_id, item["points"], reason=reason, idempotency_key=key
                )
                paid.append({"points": item["points"], "points_entry_id": entry.id})
            else:
                coupon = await coupons.issue_coupon(
                    services,
                    row.member_id,
                    item["template_id"],
                    reason=reason,
                    idempotency_key=key,
                )
                paid.append({"template_id": item["template_id"], "coupon_id": coupon.id})
        except DomainError as exc:
            log.warning(
                "tier benefit refused", extra={"grant": row.id, "item": index, "code": exc.code}
            )
            failures.append({**item, "code": exc.code})
    state = GrantState.FAILED if failures else GrantState.GRANTED
    await BenefitGrant.filter(id=row.id, state=GrantState.CLAIMED).update(
        state=state, paid=paid, failures=failures, updated_at=services.clock.now()
    )
    row.state, row.paid, row.failures = state, paid, failures
    return state


async def pay_claimed(
    services: Services, kind: BenefitKind, occasion: str, member_ids: Sequence[int]
) -> Counter[str]:
    """Pay the claimed rows of these members for the occasion; outcome counts."""
    outcomes: Counter[str] = Counter()
    if not member_ids:
        return outcomes
    rows = await BenefitGrant.filter(
        kind=kind, occasion=occasion, member_id__in=list(member_ids), state=GrantState.CLAIMED
    ).order_by("id")
    for row in rows:
        outcomes[(await pay(services, row)).value] += 1
    return outcomes
