"""The cashier's write-off (核销): check a coupon against an order, use it once, void it.

Using a coupon is one conditional update (`status = unused` and still valid), so two cashiers
scanning the same code at once get one success and one `already_used`. Repeating a write-off
for the same order (a POS retrying after a timeout) answers with the first result instead.
Voiding gives a used coupon back when its order is cancelled, once; a coupon whose validity
ended meanwhile goes to expired instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise.transactions import in_transaction

from handlers import audit
from handlers.coupons.codes import coupon_public, discount_for, normalize_code
from handlers.stores import store_for
from wxmember.core.context import Services
from wxmember.core.errors import Conflict, NotFound
from wxmember.core.models import Operator
from wxmember.core.models.coupons import Coupon, CouponKind, CouponStatus, CouponTemplate


@dataclass(frozen=True)
class WriteOff:
    """A coupon used on an order: what it took off and what the customer pays."""

    coupon: Coupon
    template: CouponTemplate
    order_no: str
    order_amount_fen: int
    discount_fen: int
    replayed: bool

    @property
    def payable_fen(self) -> int:
        return self.order_amount_fen - self.discount_fen

    @property
    def gift(self) -> str | None:
        return self.template.title if self.template.kind == CouponKind.GIFT else None


async def _find(code: str) -> Coupon:
    coupon = await Coupon.get_or_none(code=normalize_code(code)).select_related("template")
    if coupon is None:
        raise NotFound("No coupon has this code.", code="coupon_not_found")
    return coupon


def _refusal(
    coupon: Coupon, now: datetime, order_amount_fen: int | None, member_id: int | None
) -> Conflict | None:
    """Why this coupon cannot be used on this order now, or None."""
    if member_id is not None and coupon.member_id != member_id:
        return Conflict("This coupon belongs to another member.", code="member_mismatch")
    if coupon.status == CouponStatus.USED:
        return Conflict("This coupon has already been used.", code="already_used")
    if coupon.status == CouponStatus.EXPIRED or now >= coupon.valid_until:
        return Conflict("This coupon has expired.", code="expired")
    if now < coupon.valid_from:
        return Conflict("This coupon is not valid yet.", code="not_started")
    threshold = coupon.template.threshold_fen
    if order_amount_fen is not None and order_amount_fen < threshold:
        return Conflict(
            f"The order must reach {threshold} fen for this coupon.",
            code="below_threshold",
            details={"threshold_fen": threshold},
        )
    return None


async def check_coupon(
    services: Services, code: str, order_amount_fen: int | None
) -> tuple[Coupon, Conflict | None, int | None]:
    """Look a code up for the cashier: the coupon, why it cannot be used, the discount."""
    coupon = await _find(code)
    refusal = _refusal(coupon, services.clock.now(), order_amount_fen, None)
    discount = None
    if refusal is None and order_amount_fen is not None:
        discount = discount_for(coupon.template, order_amount_fen)
    return coupon, refusal, discount


async def look_up(services: Services, code: str, order_amount_fen: int | None) -> dict[str, Any]:
    """What the till shows for a code: the coupon, whether it can be used on an order of this
    amount (and why not), the discount and what the customer would pay."""
    coupon, refusal, discount = await check_coupon(services, code, order_amount_fen)
    payable = None
    if order_amount_fen and discount is not None:
        payable = order_amount_fen - discount
    return {
        "coupon": coupon_public(services, coupon, coupon.template),
        "member_id": coupon.member_id,
        "usable": refusal is None,
        "reason": refusal.code if refusal else None,
        "discount_fen": discount,
        "payable_fen": payable,
    }


async def redeem(
    services: Services,
    actor: Operator,
    code: str,
    *,
    order_no: str,
    order_amount_fen: int,
    member_id: int | None = None,
    store: str | None = None,
) -> WriteOff:
    """Use a coupon on an order, once; audited. `store` is the code of the store it is used
    at (`handlers.stores.cashiers` says when a cashier may leave it out)."""
    store = await store_for(actor, store)
    coupon = await _find(code)
    template = coupon.template
    now = services.clock.now()
    if _same_write_off(coupon, order_no, order_amount_fen):
        return _replay(coupon, template, member_id)
    refusal = _refusal(coupon, now, order_amount_fen, member_id)
    if refusal is not None:
        raise refusal
    discount = discount_for(template, order_amount_fen)
    async with in_transaction() as conn:
        used = (
            await Coupon.filter(id=coupon.id, status=CouponStatus.UNUSED, valid_until__gt=now)
            .using_db(conn)
            .update(
                status=CouponStatus.USED,
                status_changed_at=now,
                used_at=now,
                order_no=order_no,
                order_amount_fen=order_amount_fen,
                discount_fen=discount,
                store=store,
                redeemed_by_id=actor.id,
            )
        )
        if used:
            await audit.record(
                actor,
                "coupon.redeem",
                "coupon",
                coupon.id,
                before={"status": CouponStatus.UNUSED.value},
                after={
                    "status": CouponStatus.USED.value,
                    "order_no": order_no,
                    "order_amount_fen": order_amount_fen,
                    "discount_fen": discount,
                    "store": store,
                },
                using_db=conn,
            )
    if not used:
        # Someone else changed it between our read and our update: say what happened.
        fresh = await _find(coupon.code)
        if _same_write_off(fresh, order_no, order_amount_fen):
            return _replay(fresh, fresh.template, member_id)
        raise _refusal(fresh, now, order_amount_fen, member_id) or Conflict(
            "This coupon has already been used.", code="already_used"
        )
    await coupon.refresh_from_db()
    return WriteOff(coupon, template, order_no, order_amount_fen, discount, replayed=False)


def _same_write_off(coupon: Coupon, order_no: str, order_amount_fen: int) -> bool:
    return (
        coupon.status == CouponStatus.USED
        and coupon.order_no == order_no
        and coupon.order_amount_fen == order_amount_fen
    )


def _replay(coupon: Coupon, template: CouponTemplate, member_id: int | None) -> WriteOff:
    if member_id is not None and coupon.member_id != member_id:
        raise Conflict("This coupon belongs to another member.", code="member_mismatch")
    return WriteOff(
        coupon,
        template,
        coupon.order_no or "",
        coupon.order_amount_fen or 0,
        coupon.discount_fen or 0,
        replayed=True,
    )


async def void(services: Services, actor: Operator, code: str, *, order_no: str) -> Coupon:
    """Give back a coupon used on a cancelled order, once; expired if its validity is over."""
    coupon = await _find(code)
    now = services.clock.now()
    if coupon.status != CouponStatus.USED:
        raise Conflict("This coupon is not used.", code="not_used")
    if coupon.order_no != order_no:
        raise Conflict("This coupon was used on another order.", code="order_mismatch")
    back_to = CouponStatus.UNUSED if now < coupon.valid_until else CouponStatus.EXPIRED
    async with in_transaction() as conn:
        restored = (
            await Coupon.filter(id=coupon.id, status=CouponStatus.USED, order_no=order_no)
            .using_db(conn)
            .update(
                status=back_to,
                status_changed_at=now,
                used_at=None,
                order_no=None,
                order_amount_fen=None,
                discount_fen=None,
                store=None,
                redeemed_by_id=None,
            )
        )
        if restored:
            await audit.record(
                actor,
                "coupon.void",
                "coupon",
                coupon.id,
                before={
                    "status": CouponStatus.USED.value,
                    "order_no": order_no,
                    "discount_fen": coupon.discount_fen,
                },
                after={"status": back_to.value},
                using_db=conn,
            )
    if not restored:
        raise Conflict("This coupon is not used.", code="not_used")
    await coupon.refresh_from_db()
    return coupon


def writeoff_public(services: Services, result: WriteOff) -> dict[str, Any]:
    """What the POS shows after a write-off."""
    return {
        "coupon": coupon_public(services, result.coupon, result.template),
        "member_id": result.coupon.member_id,
        "order_no": result.order_no,
        "order_amount_fen": result.order_amount_fen,
        "discount_fen": result.discount_fen,
        "payable_fen": result.payable_fen,
        "store": result.coupon.store,
        "gift": result.gift,
        "replayed": result.replayed,
    }
