"""Shapes: the answer models of the dicts this capability builds, shared by the channels."""

from __future__ import annotations

from datetime import datetime

from wxmember.core.answers import Answer
from wxmember.core.models.mall import ItemKind, LimitPeriod, OrderState


class ItemLimit(Answer):
    period: LimitPeriod
    count: int


class OrderItem(Answer):
    id: int
    title: str
    kind: ItemKind
    image: str | None


class IssuedCoupon(Answer):
    id: int
    code: str


class ShippingAddress(Answer):
    """Where a physical item goes (the phone masked unless an owner revealed it)."""

    recipient: str
    phone: str | None
    region: str | None
    detail: str | None


class Shipment(Answer):
    carrier: str
    tracking_no: str | None


# built by `order_view`
class MallOrder(Answer):
    """A mall order; `codes` (virtual items) or `coupons` (coupon items) once handed over."""

    id: int
    item: OrderItem
    quantity: int
    unit_price: int
    points_total: int
    state: OrderState
    codes: list[str] | None
    coupons: list[IssuedCoupon] | None
    address: ShippingAddress | None
    shipping: Shipment | None
    created_at: datetime | None
    shipped_at: datetime | None
    completed_at: datetime | None
    cancelled_at: datetime | None
    cancel_reason: str | None


class MallOrderPage(Answer):
    items: list[MallOrder]
    next_cursor: str | None
