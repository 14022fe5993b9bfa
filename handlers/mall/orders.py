"""Mall orders after the redemption: listing, shipping, completing and cancelling.

Physical orders go `pending` -> `shipped` -> `completed`; a pending one may be cancelled by the
member or an operator, which refunds the points through the ledger, restores the stock and
gives the member's allowance back. Every transition is a conditional update on the state, so
two concurrent cancels (or a cancel racing a shipment) have exactly one winner.

The shipping phone shows masked; staff see it in full only through `handlers.reveal` (owners,
audited), as with a member's own phone.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import StringConstraints
from tortoise.expressions import F

from handlers import audit, points
from handlers.mall.catalogue import LIFETIME
from handlers.mall.redemption import spend_key
from handlers.reveal import check_may_reveal, revealed_phone
from wxmember.core.context import Services
from wxmember.core.errors import Conflict, OrderNotFound
from wxmember.core.inputs import Body, CleanText
from wxmember.core.kernel import continue_after, lock_member, transaction
from wxmember.core.models import Member, Operator
from wxmember.core.models.mall import (
    ItemKind,
    MallItem,
    MallOrder,
    MallRedemptionCount,
    OrderState,
)
from wxmember.core.security import mask_phone


class Shipment(Body):
    carrier: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32), CleanText
    ]
    tracking_no: Annotated[
        str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9-]{4,40}$")
    ]


class Cancellation(Body):
    reason: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), CleanText
    ]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def order_view(services: Services, order: MallOrder, *, phone: str | None = None) -> dict[str, Any]:
    """An order as members and operators see it; `order.item` must be loaded.

    The shipping phone is masked unless `phone` is given: the number revealed to an owner.
    """
    item: MallItem = order.item
    address = None
    if order.recipient is not None:
        if phone is None and order.phone_enc:
            phone = mask_phone(services.cipher.decrypt(order.phone_enc))
        address = {
            "recipient": order.recipient,
            "phone": phone,
            "region": order.region,
            "detail": order.address_detail,
        }
    shipping = None
    if order.carrier is not None:
        shipping = {"carrier": order.carrier, "tracking_no": order.tracking_no}
    fulfilment = order.fulfilment or {}
    return {
        "id": order.id,
        "item": {
            "id": item.id,
            "title": order.item_title,
            "kind": ItemKind(order.kind).value,
            "image": item.images[0] if item.images else None,
        },
        "quantity": order.quantity,
        "unit_price": order.unit_price,
        "points_total": order.points_total,
        "state": OrderState(order.state).value,
        "codes": fulfilment.get("codes"),
        "coupons": fulfilment.get("coupons"),
        "address": address,
        "shipping": shipping,
        "created_at": _iso(order.created_at),
        "shipped_at": _iso(order.shipped_at),
        "completed_at": _iso(order.completed_at),
        "cancelled_at": _iso(order.cancelled_at),
        "cancel_reason": order.cancel_reason,
    }


def admin_order_view(
    services: Services, order: MallOrder, *, phone: str | None = None
) -> dict[str, Any]:
    """An order for operators: the member's view plus who, and who cancelled."""
    return order_view(services, order, phone=phone) | {
        "member_id": order.member_id,
        "cancelled_by": order.cancelled_by,
    }


async def member_orders(
    member: Member, after_id: int | None, limit: int, state: OrderState | None = None
) -> list[MallOrder]:
    """The member's orders, newest first, `limit + 1` of them."""
    query = MallOrder.filter(member_id=member.id)
    if state is not None:
        query = query.filter(state=state)
    query = continue_after(query, after_id)
    return await query.select_related("item").order_by("-id").limit(limit + 1)


async def member_order(member: Member, order_id: int) -> MallOrder:
    """One of the member's orders; NotFound `order_not_found` for anyone else's."""
    order = await MallOrder.get_or_none(id=order_id, member_id=member.id).select_related("item")
    if order is None:
        raise OrderNotFound()
    return order


async def list_orders(
    after_id: int | None,
    limit: int,
    *,
    state: OrderState | None = None,
    member_id: int | None = None,
) -> list[MallOrder]:
    """Orders for operators, newest first, filtered by state and member, `limit + 1`."""
    query = MallOrder.all()
    if state is not None:
        query = query.filter(state=state)
    if member_id is not None:
        query = query.filter(member_id=member_id)
    query = continue_after(query, after_id)
    return await query.select_related("item").order_by("-id").limit(limit + 1)


async def get_order(order_id: int) -> MallOrder:
    """Any order; NotFound `order_not_found`."""
    order = await MallOrder.get_or_none(id=order_id).select_related("item")
    if order is None:
        raise OrderNotFound()
    return order


async def order_detail(
    services: Services, actor: Operator, order_id: int, *, reveal_phone: bool = False
) -> dict[str, Any]:
    """One order for staff; with `reveal_phone` (owners only, audited) the phone in full."""
    if reveal_phone:
        check_may_reveal(actor)
    order = await get_order(order_id)
    phone = None
    if reveal_phone and order.recipient is not None:
        phone = await revealed_phone(services, actor, "mall_order", order.id, order.phone_enc)
    return admin_order_view(services, order, phone=phone)


def _invalid_state(order: MallOrder, action: str) -> Conflict:
    return Conflict(
        f"A {OrderState(order.state).value} order cannot be {action}.",
        code="invalid_state",
        details={"state": OrderState(order.state).value},
    )


async def ship_order(
    services: Services, actor: Operator, order_id: int, shipment: Shipment
) -> MallOrder:
    """Mark a pending physical order shipped with its carrier and tracking number (audited)."""
    async with transaction() as conn:
        order = await MallOrder.filter(id=order_id).using_db(conn).first()
        if order is None:
            raise OrderNotFound()
        moved = (
            await MallOrder.filter(id=order_id, state=OrderState.PENDING)
            .using_db(conn)
            .update(
                state=OrderState.SHIPPED,
                carrier=shipment.carrier,
                tracking_no=shipment.tracking_no,
                shipped_at=services.clock.now(),
            )
        )
        if not moved:
            await order.refresh_from_db(using_db=conn)
            raise _invalid_state(order, "shipped")
        await audit.record(
            actor,
            "mall_order.ship",
            "mall_order",
            order.id,
            before={"state": OrderState.PENDING.value},
            after={
                "state": OrderState.SHIPPED.value,
                "carrier": shipment.carrier,
                "tracking_no": shipment.tracking_no,
            },
            using_db=conn,
        )
    return await get_order(order_id)


async def complete_order(services: Services, actor: Operator, order_id: int) -> MallOrder:
    """Mark a shipped order delivered (audited)."""
    async with transaction() as conn:
        order = await MallOrder.filter(id=order_id).using_db(conn).first()
        if order is None:
            raise OrderNotFound()
        moved = (
            await MallOrder.filter(id=order_id, state=OrderState.SHIPPED)
            .using_db(conn)
            .update(state=OrderState.COMPLETED, completed_at=services.clock.now())
        )
        if not moved:
            await order.refresh_from_db(using_db=conn)
            raise _invalid_state(order, "completed")
        await audit.record(
            actor,
            "mall_order.complete",
            "mall_order",
            order.id,
            before={"state": OrderState.SHIPPED.value},
            after={"state": OrderState.COMPLETED.value},
            using_db=conn,
        )
    return await get_order(order_id)


async def cancel_order(
    services: Services,
    order_id: int,
    *,
    member: Member | None = None,
    actor: Operator | None = None,
    reason: str,
) -> MallOrder:
    """Cancel a pending physical order: refund the points, restore stock and allowance, once.

    Called for the member (their own orders only) or by an operator (audited).
    """
    async with transaction() as conn:
        query = MallOrder.filter(id=order_id)
        if member is not None:
            query = query.filter(member_id=member.id)
        order = await query.using_db(conn).get_or_none()
        if order is None:
            raise OrderNotFound()
        # An operator may cancel after the member deleted their account (kept anonymous).
        account = await lock_member(conn, order.member_id, include_deleted=True)
        moved = (
            await MallOrder.filter(id=order.id, state=OrderState.PENDING)
            .using_db(conn)
            .update(
                state=OrderState.CANCELLED,
                cancelled_at=services.clock.now(),
                cancel_reason=reason,
                cancelled_by=actor.username if actor is not None else "member",
            )
        )
        if not moved:
            await order.refresh_from_db(using_db=conn)
            raise _invalid_state(order, "cancelled")
        # Same lock order as a redemption: member, counters, item.
        for period in (LIFETIME, order.limit_month):
            await (
                MallRedemptionCount.filter(
                    member_id=order.member_id,
                    item_id=order.item_id,
                    period=period,
                    count__gte=order.quantity,
                )
                .using_db(conn)
                .update(count=F("count") - order.quantity)
            )
        await (
            MallItem.filter(id=order.item_id)
            .using_db(conn)
            .update(stock=F("stock") + order.quantity, sold=F("sold") - order.quantity)
        )
        await points.refund_spend(
            services,
            spend_key(order.member_id, order.idempotency_key),
            idempotency_key=f"mall-cancel:{order.id}",
            reason="mall_cancel",
            account=account,
        )
        if actor is not None:
            await audit.record(
                actor,
                "mall_order.cancel",
                "mall_order",
                order.id,
                before={"state": OrderState.PENDING.value},
                after={"state": OrderState.CANCELLED.value, "reason": reason},
                using_db=conn,
            )
    return await get_order(order_id)


async def forget_member(services: Services, member_id: int) -> int:
    """On account deletion: cancel pending shipments (stock and points go back) and wipe the
    shipping addresses of every order; the orders stay, anonymous. Returns orders wiped."""
    pending = MallOrder.filter(member_id=member_id, state=OrderState.PENDING).only("id")
    for order in await pending:
        try:
            await cancel_order(services, order.id, reason="account deleted")
        except Conflict:
            pass  # shipped meanwhile: the address is wiped all the same
    return await MallOrder.filter(member_id=member_id, recipient__isnull=False).update(
        recipient=None, phone_enc=None, region=None, address_detail=None
    )
