"""What operators see of the tier benefits paid: the grants, newest first, and each grant."""

from __future__ import annotations

from typing import Any

from wxmember.core.kernel import continue_after
from wxmember.core.models.benefits import BenefitGrant, BenefitKind, GrantState


async def list_grants(
    *,
    member_id: int | None,
    kind: BenefitKind | None,
    occasion: str | None,
    state: GrantState | None,
    before_id: int | None,
    limit: int,
) -> list[BenefitGrant]:
    """Newest first, filtered, `limit + 1` rows (the caller pages)."""
    query = BenefitGrant.all().order_by("-id")
    if member_id is not None:
        query = query.filter(member_id=member_id)
    if kind is not None:
        query = query.filter(kind=kind)
    if occasion is not None:
        query = query.filter(occasion=occasion)
    if state is not None:
        query = query.filter(state=state)
    return await continue_after(query, before_id).limit(limit + 1)


def _item(item: dict[str, Any]) -> dict[str, Any]:
    return {"points": item.get("points"), "template_id": item.get("template_id")}


def grant_view(row: BenefitGrant) -> dict[str, Any]:
    """A grant as the admin API shows it: what was due, what was paid, what was refused."""
    return {
        "id": row.id,
        "member_id": row.member_id,
        "kind": str(row.kind),
        "occasion": row.occasion,
        "day": row.day.isoformat(),
        "tier_id": row.tier_id,
        "tier_name": row.tier_name,
        "state": str(row.state),
        "items": [_item(item) for item in row.items],
        "paid": [
            _item(item)
            | {
                "points_entry_id": item.get("points_entry_id"),
                "coupon_id": item.get("coupon_id"),
            }
            for item in row.paid
        ],
        "failures": [_item(item) | {"code": str(item.get("code", ""))} for item in row.failures],
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
    }
