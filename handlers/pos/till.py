"""What the till shows between its writes: the member being served, a coupon checked for them,
a recorded purchase found for a refund.

The writes themselves are `handlers.pos.purchases` (purchases, refunds) and
`handlers.coupons.writeoff` (write-off), the same functions the POS API calls.
"""

from __future__ import annotations

from typing import Any

from handlers.coupons import writeoff
from handlers.pos.purchases import purchase_public, till_view
from wxmember.core.context import Services
from wxmember.core.errors import NotFound
from wxmember.core.kernel import get_member
from wxmember.core.models.pos import Purchase


async def member_at_till(services: Services, member_id: int) -> dict[str, Any]:
    """The member being served, as `identify` shows them (phone masked), read again after a
    write so the till shows the balance and tier it left."""
    member = await get_member(member_id)
    member.require_card()
    return await till_view(services, member)


async def check_coupon_for(
    services: Services, code: str, order_amount_fen: int | None, member_id: int | None
) -> dict[str, Any]:
    """`writeoff.look_up` for the member being served: a coupon of another member is not usable
    on their order (`member_mismatch`, the refusal the write-off itself would give)."""
    shown = await writeoff.look_up(services, code, order_amount_fen)
    if member_id is not None and shown["member_id"] != member_id:
        shown |= {
            "usable": False,
            "reason": "member_mismatch",
            "discount_fen": None,
            "payable_fen": None,
        }
    return shown


async def purchase_for_refund(order_no: str) -> dict[str, Any]:
    """A recorded purchase by its order number, with what is left to refund and whose it was;
    NotFound `purchase_not_found`."""
    purchase = await Purchase.get_or_none(order_no=order_no)
    if purchase is None:
        raise NotFound("No purchase with this order number.", code="purchase_not_found")
    member = await get_member(purchase.member_id, include_deleted=True)
    return purchase_public(purchase) | {
        "refundable_fen": purchase.amount_fen - purchase.refunded_fen,
        "member_name": member.name,
        "card_no": member.card_no,
    }
