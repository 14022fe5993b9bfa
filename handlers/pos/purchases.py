"""The cashier's till: identify a member, credit a purchase, refund it (wholly or in part).

A purchase earns `amount_fen // 100 * points_per_yuan * tier multiplier // 100` points and
`amount_fen // 100 * growth_per_yuan` growth, in one transaction with the purchase row. The
row's unique `order_no` makes retries safe: the same order again returns the first result,
the same number with another member or amount is 409 `order_no_reused`.

A refund takes back points and growth in proportion to the refunded money, computed from the
running totals (`points * refunded_total // amount - taken_so_far`), so several partial refunds
add up to exactly what the purchase earned. Refunds of one purchase serialise on its row lock;
each is once per `refund_no`.
"""

from __future__ import annotations

from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from handlers import audit, points, referrals
from handlers.members.cards import find_member_for_pos
from handlers.stores import store_for
from handlers.tiers.growth import add_growth, multiplier_percent
from wxmember.core.context import Services
from wxmember.core.errors import Conflict, NotFound, ValidationFailed
from wxmember.core.kernel import lock_member
from wxmember.core.models import Member, Operator, Tier
from wxmember.core.models.points import PointsEntry
from wxmember.core.models.pos import Purchase, PurchaseRefund
from wxmember.core.prepared import InsertRow, RowsBy, placeholders, read_rows
from wxmember.core.security import mask_phone


async def identify(services: Services, code: str) -> dict[str, Any]:
    """Who a dynamic member code or card number belongs to, as the till shows it."""
    member = await find_member_for_pos(services, code)
    return await till_view(services, member)


async def till_view(services: Services, member: Member) -> dict[str, Any]:
    """A member as the till shows them: name, card, tier and balance, the phone masked."""
    tier_id = member.tier_id
    tier = await Tier.get_or_none(id=tier_id) if tier_id is not None else None
    phone = services.cipher.decrypt(member.phone_enc) if member.phone_enc else None
    return {
        "member_id": member.id,
        "name": member.name,
        "phone": mask_phone(phone),
        "card_no": member.card_no,
        "tier": None if tier is None else {"id": tier.id, "name": tier.name, "level": tier.level},
        "points_balance": member.points_balance,
        "points_debt": member.points_debt,
    }


def purchase_public(purchase: Purchase) -> dict[str, Any]:
    """A purchase as the till and the audit log show it."""
    return {
        "order_no": purchase.order_no,
        "member_id": purchase.member_id,
        "amount_fen": purchase.amount_fen,
        "store": purchase.store,
        "multiplier_percent": purchase.multiplier_percent,
        "points": purchase.points,
        "growth": purchase.growth,
        "refunded_fen": purchase.refunded_fen,
        "points_taken_back": purchase.points_taken_back,
        "growth_taken_back": purchase.growth_taken_back,
        "created_at": purchase.created_at.isoformat(),
    }


MAX_FEN = 100_000_000
MAX_NUMBER = 48


def _check(amount_fen: int, **numbers: str) -> None:
    if not 1 <= amount_fen <= MAX_FEN:
        raise ValidationFailed(f"amount_fen must be 1..{MAX_FEN}.", code="invalid_amount_fen")
    for name, value in numbers.items():
        if not 1 <= len(value) <= MAX_NUMBER:
            raise ValidationFailed(
                f"{name} needs 1..{MAX_NUMBER} characters.", code=f"invalid_{name}"
            )


def _same_order(purchase: Purchase, member_id: int, amount_fen: int) -> Purchase:
    if purchase.member_id != member_id or purchase.amount_fen != amount_fen:
        raise Conflict(
            "This order number was recorded for another member or amount.",
            code="order_no_reused",
        )
    return purchase


_BY_ORDER_NO = RowsBy(Purchase, "order_no", limit=1)
_INSERT_PURCHASE = InsertRow(Purchase)
# The member's points after a purchase (a purchase keeps its member: deletion anonymises).
_POINTS = 'SELECT "points_balance", "points_debt" FROM "members" WHERE "id" = $1'


async def record_purchase(
    services: Services,
    actor: Operator,
    member_id: int,
    order_no: str,
    amount_fen: int,
    store: str | None = None,
) -> tuple[Purchase, bool]:
    """Credit a purchase's points and growth; the purchase and whether this call recorded it.

    `store` is the code of the store it was bought at (`handlers.stores.cashiers` says when a
    cashier may leave it out and which stores it may name)."""
    purchase, points_after = await _record(services, actor, member_id, order_no, amount_fen, store)
    return purchase, points_after is not None


async def _record(
    services: Services,
    actor: Operator,
    member_id: int,
    order_no: str,
    amount_fen: int,
    store: str | None,
) -> tuple[Purchase, tuple[int, int] | None]:
    """`record_purchase`, with the member's balance and debt as its transaction left them;
    None for a purchase recorded before."""
    _check(amount_fen, order_no=order_no)
    store = await store_for(actor, store)
    existing = await _BY_ORDER_NO.first(None, order_no)
    if existing is not None:
        return _same_order(existing, member_id, amount_fen), None
    settings = services.config.points
    yuan = amount_fen // 100
    key = f"purchase:{order_no}"
    reference = f"order:{order_no}"
    try:
        async with in_transaction() as conn:
            account = await lock_member(conn, member_id)
            member = account.row.require_card()
            multiplier = await multiplier_percent(member, conn)
            purchase = await _INSERT_PURCHASE.insert(
                conn,
                order_no=order_no,
                member_id=member.id,
                amount_fen=amount_fen,
                store=store,
                multiplier_percent=multiplier,
                points=yuan * settings.points_per_yuan * multiplier // 100,
                growth=yuan * settings.growth_per_yuan,
                operator=actor,
                created_at=services.clock.now(),
            )
            if purchase is None:  # a plain insert answers its row or raises
                raise RuntimeError("the purchase row was not written")
            if purchase.points:
                await points.earn(
                    services,
                    account,
                    purchase.points,
                    reason="purchase",
                    idempotency_key=key,
                    reference=reference,
                )
            if purchase.growth:
                await add_growth(
                    services,
                    account,
                    purchase.growth,
                    reason="purchase",
                    idempotency_key=key,
                    reference=reference,
                )
            await referrals.reward_first_purchase(services, account)
            await audit.record(
                actor,
                "pos.purchase",
                "purchase",
                purchase.id,
                after=purchase_public(purchase),
                using_db=conn,
            )
    except IntegrityError:
        # The unique order_no: a retry of the same order committed first.
        existing = await _BY_ORDER_NO.first(None, order_no)
        if existing is None:
            raise
        return _same_order(existing, member_id, amount_fen), None
    return purchase, (member.points_balance, member.points_debt)


async def till_purchase(
    services: Services,
    actor: Operator,
    member_id: int,
    order_no: str,
    amount_fen: int,
    store: str | None = None,
) -> tuple[dict[str, Any], bool]:
    """`record_purchase`, as the till shows it: the purchase, the member's points now, and
    whether it was a replay of a purchase already recorded; True when this call recorded it."""
    purchase, points_after = await _record(services, actor, member_id, order_no, amount_fen, store)
    created = points_after is not None
    if points_after is None:  # a replay: the member's points as they are now
        conn = Member._meta.db
        [points_after] = await read_rows(conn, placeholders(conn, _POINTS), [purchase.member_id])
    balance, debt = points_after
    shown = purchase_public(purchase) | {
        "balance": balance,
        "debt": debt,
        "replayed": not created,
    }
    return shown, created


def refund_public(refund: PurchaseRefund, purchase: Purchase, member: Member) -> dict[str, Any]:
    """A refund, its purchase's totals after it, and the member's points now."""
    return {
        "order_no": purchase.order_no,
        "refund_no": refund.refund_no,
        "amount_fen": refund.amount_fen,
        "points_taken_back": refund.points_taken_back,
        "points_shortfall": refund.points_shortfall,
        "growth_taken_back": refund.growth_taken_back,
        "store": refund.store,
        "refunded_fen": purchase.refunded_fen,
        "refundable_fen": purchase.amount_fen - purchase.refunded_fen,
        "balance": member.points_balance,
        "debt": member.points_debt,
        "created_at": refund.created_at.isoformat(),
    }


def _same_refund(refund: PurchaseRefund, amount_fen: int) -> PurchaseRefund:
    if refund.amount_fen != amount_fen:
        raise Conflict("This refund number was used for another amount.", code="refund_no_reused")
    return refund


async def refund_purchase(
    services: Services,
    actor: Operator,
    order_no: str,
    refund_no: str,
    amount_fen: int,
    store: str | None = None,
) -> tuple[PurchaseRefund, Purchase, bool]:
    """Refund (part of) a purchase: take back its points and growth in proportion; `store` is
    the code of the store that refunds (as for a purchase)."""
    _check(amount_fen, order_no=order_no, refund_no=refund_no)
    store = await store_for(actor, store)
    purchase = await _BY_ORDER_NO.first(None, order_no)
    if purchase is None:
        raise NotFound("No purchase with this order number.", code="purchase_not_found")
    prior = await PurchaseRefund.get_or_none(purchase_id=purchase.id, refund_no=refund_no)
    if prior is not None:
        return _same_refund(prior, amount_fen), purchase, False
    key = f"purchase-refund:{order_no}:{refund_no}"
    try:
        async with in_transaction() as conn:
            locked = await Purchase.select_for_update().using_db(conn).get(id=purchase.id)
            taken = PurchaseRefund.filter(purchase_id=purchase.id, refund_no=refund_no)
            if await taken.using_db(conn).exists():
                # The same refund committed while this one waited for the lock.
                raise IntegrityError("refund_no taken")
            before = purchase_public(locked)
            refunded = locked.refunded_fen + amount_fen
            if refunded > locked.amount_fen:
                raise Conflict(
                    "The refunds would exceed the purchase.",
                    code="refund_exceeds_purchase",
                    details={"refundable_fen": locked.amount_fen - locked.refunded_fen},
                )
            take = locked.points * refunded // locked.amount_fen - locked.points_taken_back
            growth = locked.growth * refunded // locked.amount_fen - locked.growth_taken_back
            # Purchase first, then member: the order every refund takes its locks in. A refund is
            # bookkeeping, so it also applies to an account deleted since (kept anonymous).
            account = await lock_member(conn, locked.member_id, include_deleted=True)
            shortfall = 0
            if take:
                earned = await (
                    PointsEntry.filter(idempotency_key=f"purchase:{order_no}")
                    .using_db(conn)
                    .first()
                )
                entry = await points.take_back(
                    services,
                    account,
                    take,
                    reason="purchase_refund",
                    idempotency_key=key,
                    reference=f"order:{order_no}",
                    from_entry=earned,
                )
                shortfall = entry.debt_change
            if growth:
                await add_growth(
                    services,
                    account,
                    -growth,
                    reason="purchase_refund",
                    idempotency_key=key,
                    reference=f"order:{order_no}",
                )
            locked.refunded_fen = refunded
            locked.points_taken_back += take
            locked.growth_taken_back += growth
            await locked.save(
                using_db=conn,
                update_fields=["refunded_fen", "points_taken_back", "growth_taken_back"],
            )
            refund = await PurchaseRefund.create(
                purchase_id=locked.id,
                refund_no=refund_no,
                amount_fen=amount_fen,
                points_taken_back=take,
                points_shortfall=shortfall,
                growth_taken_back=growth,
                store=store,
                operator=actor,
                created_at=services.clock.now(),
                using_db=conn,
            )
            await audit.record(
                actor,
                "pos.refund",
                "purchase",
                locked.id,
                before=before,
                after=purchase_public(locked) | {"refund_no": refund_no, "refund_store": store},
                using_db=conn,
            )
    except IntegrityError:
        prior = await PurchaseRefund.get_or_none(purchase_id=purchase.id, refund_no=refund_no)
        if prior is None:
            raise
        return _same_refund(prior, amount_fen), await Purchase.get(id=purchase.id), False
    return refund, locked, True


async def till_refund(
    services: Services,
    actor: Operator,
    order_no: str,
    refund_no: str,
    amount_fen: int,
    store: str | None = None,
) -> tuple[dict[str, Any], bool]:
    """`refund_purchase`, as the till shows it (`refund_public` and whether it was a replay);
    True when this call refunded."""
    refund, purchase, created = await refund_purchase(
        services, actor, order_no, refund_no, amount_fen, store
    )
    member = await Member.get(id=purchase.member_id)
    return refund_public(refund, purchase, member) | {"replayed": not created}, created
