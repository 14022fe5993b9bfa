"""A campaign's members as operators look them up: held out or treated, and what happened."""

from __future__ import annotations

from typing import Any

from wxmember.core.kernel import continue_after
from wxmember.core.models.campaigns import CampaignDelivery
from wxmember.core.models.reminders import DeliveryState


async def list_deliveries(
    campaign_id: int,
    *,
    state: DeliveryState | None,
    holdout: bool | None,
    after_id: int | None,
    limit: int,
) -> list[CampaignDelivery]:
    """The campaign's delivery rows in id order, `limit + 1` of them (the caller pages)."""
    query = CampaignDelivery.filter(campaign_id=campaign_id)
    if state is not None:
        query = query.filter(state=state)
    if holdout is not None:
        query = query.filter(holdout=holdout)
    query = continue_after(query.order_by("id"), after_id, newest_first=False)
    return await query.limit(limit + 1).select_related("member")


def delivery_view(row: CampaignDelivery) -> dict[str, Any]:
    return {
        "id": row.id,
        "member_id": row.member_id,
        "card_no": row.member.card_no,
        "holdout": row.holdout,
        "state": DeliveryState(row.state).value,
        "reason": row.reason,
        "errcode": row.errcode,
        "coupon_id": row.coupon_id,
        "points_entry_id": row.points_entry_id,
        "attempts": row.attempts,
        "updated_at": row.updated_at.isoformat() if row.updated_at else None,
        "finished_at": row.finished_at.isoformat() if row.finished_at else None,
    }
