"""Redeeming in the points mall: points, stock, the member's limit and the order, in one go.

A redemption carries the client's idempotency key; a retry of a committed request finds its
order and returns it. Otherwise one transaction, in this order:

1. locks the member row (as the ledger will), so one member's redemptions queue;
2. inserts the order under a unique `(member, idempotency_key)`: a concurrent retry of the
   same request fails here once the first commits, and reads the first's order instead;
3. increments the member's counters, conditionally on the item's limit;
4. spends the points through the ledger;
5. hands the item over: coupons issued, or codes assigned from the pool;
6. takes the stock last, by conditional updates (`stock >= quantity`): the coupon template's
   for the coupons issued, then the item's. These are the rows every redemption of the item
   waits for, so their locks are held only from there to the commit.

Any refusal rolls back everything. Cancelling takes its locks in the same order (member,
order, counters, item), so redemptions and cancels queue rather than deadlock.
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError

from handlers import coupons, points
from handlers.mall.catalogue import (
    LIFETIME,
    month_key,
    on_sale,
    period_of,
)
from handlers.tiers.eligibility import eligible, member_level
from wxmember.core.context import Services
from wxmember.core.db import is_postgres
from wxmember.core.errors import (
    Conflict,
    DomainError,
    IdempotencyKeyReused,
    InsufficientPoints,
    ItemNotFound,
    NotEligible,
    SoldOut,
    ValidationFailed,
)
from wxmember.core.headers import Header
from wxmember.core.inputs import CleanText, Id
from wxmember.core.kernel import lock_member, transaction
from wxmember.core.models import Member
from wxmember.core.models.mall import (
    ItemKind,
    MallCode,
    MallItem,
    MallOrder,
    OrderState,
)
from wxmember.core.prepared import InsertRow, RowsBy, placeholders, rows_of_insert

IDEMPOTENCY_KEY = Header(
    name="Idempotency-Key",
    argument="idempotency_key",
    characters="[A-Za-z0-9_-]",
    min_length=8,
    max_length=64,
    required=True,
    code="idempotency_key_required",
    description="Chosen by the client per intended redemption (a UUID, say): a retry with the "
    "same key and body answers the first order and never redeems twice.",
)
MAX_QUANTITY = 10
CODE_ATTEMPTS = 50
# What issue_coupon says when the template behind a coupon item cannot be issued any more.
_COUPON_GONE = {"template_not_found", "template_stopped", "template_expired"}


class Address(BaseModel):
    """A mainland shipping address; the phone is stored encrypted."""

    model_config = ConfigDict(extra="forbid")
    recipient: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20), CleanText
    ]
    phone: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^1[3-9]\d{9}$")]
    region: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50), CleanText
    ]
    detail: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120), CleanText
    ]


class Redemption(BaseModel):
    """What the member asks for."""

    model_config = ConfigDict(extra="forbid")
    item_id: Id
    quantity: Annotated[int, Field(strict=True, ge=1, le=MAX_QUANTITY)] = 1
    address: Address | None = None


def request_hash(body: Redemption) -> str:
    """A digest of the request as understood (formatting and key order do not count)."""
    canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def spend_key(member_id: int, idempotency_key: str) -> str:
    """The ledger idempotency key of an order's spend; its refund names it."""
    return f"mall:{member_id}:{idempotency_key}"


_ITEM_STOCK = """
UPDATE "mall_items" SET "stock" = "stock" - {units}, "sold" = "sold" + {units}
WHERE "id" = {item} AND "stock" >= {units}
"""
_TAKE_ITEM_STOCK = _ITEM_STOCK.format(units="$1", item="$2")
# PostgreSQL: the template's stock ($1, $2 units: `coupons.TAKE_STOCK`) and the item's ($3 units
# of $4) in one statement; whether each was taken.
_TAKE_BOTH = f"""
WITH template AS ({coupons.TAKE_STOCK} RETURNING 1),
item AS ({_ITEM_STOCK.format(units="$3", item="$4")} RETURNING 1)
SELECT EXISTS (SELECT 1 FROM template), EXISTS (SELECT 1 FROM item)
"""
_FULFILMENT = 'UPDATE "mall_orders" SET "fulfilment" = $1 WHERE "id" = $2'
_ORDER_BY_KEY = RowsBy(MallOrder, "member_id", "idempotency_key", limit=1)
_ITEM = RowsBy(MallItem, "id", limit=1)
_INSERT_ORDER = InsertRow(MallOrder)


async def _replay(member_id: int, key: str, digest: str) -> MallOrder | None:
    order = await _ORDER_BY_KEY.first(None, member_id, key)
    if order is None:
        return None
    if order.request_hash != digest:
        raise IdempotencyKeyReused("This Idempotency-Key was used for a different request.")
    item = await _ITEM.first(None, order.item_id)
    if item is None:  # items with orders are kept (RESTRICT)
        raise RuntimeError(f"mall order {order.id} has no item")
    order.item = item
    return order


async def redeem(
    services: Services, member: Member, body: Redemption, idempotency_key: str
) -> tuple[MallOrder, bool]:
    """Redeem an item; returns the order and whether this call created it (False: a retry)."""
    digest = request_hash(body)
    existing = await _replay(member.id, idempotency_key, digest)
    if existing is not None:
        return existing, False
    item = await _ITEM.first(None, body.item_id)
    if item is None:
        raise ItemNotFound()
    _precheck(services, item, body)
    if not eligible(item.tier_levels, await member_level(member)):
        raise NotEligible("Your tier cannot redeem this item.")
    total = item.points_price * body.quantity
    # Fast refusals that need no transaction; the conditional updates below are what decide.
    if item.stock < body.quantity:
        raise SoldOut("This item is sold out.")
    if member.points_balance < total:
        raise InsufficientPoints(balance=member.points_balance, needed=total)
    try:
        async with transaction() as conn:
            account = await lock_member(conn, member.id)
            order = await _create_order(services, conn, member, item, body, idempotency_key)
            order.item = item
            await _count(conn, member.id, item, body.quantity, order.limit_month)
            await points.spend(
                services,
                account,
                total,
                reason="mall_redemption",
                idempotency_key=spend_key(member.id, idempotency_key),
                reference=f"mall_order:{order.id}",
            )
            issued = await _hand_over(services, conn, order, item)
            # The most contended rows last: every redemption of this item (and every issue of
            # its coupon) waits for their locks, so they are held from here to the commit
            # only, not through the spend and the hand-over.
            await _take_stock(services, conn, item, issued, body.quantity)
    except IntegrityError:
        # Unique (member, key): the same request committed first in another worker or task.
        existing = await _replay(member.id, idempotency_key, digest)
        if existing is None:
            raise
        return existing, False
    return order, True


def _precheck(services: Services, item: MallItem, body: Redemption) -> None:
    if not on_sale(item, services.clock.now()):
        raise Conflict("This item is not on sale.", code="not_on_sale")
    if item.kind == ItemKind.PHYSICAL and body.address is None:
        raise ValidationFailed("A physical item needs a shipping address.", code="address_required")


async def _create_order(
    services: Services,
    conn: BaseDBAsyncClient,
    member: Member,
    item: MallItem,
    body: Redemption,
    idempotency_key: str,
) -> MallOrder:
    physical = item.kind == ItemKind.PHYSICAL
    address = body.address if physical else None
    now = services.clock.now()
    order = await _INSERT_ORDER.insert(
        conn,
        member_id=member.id,
        item_id=item.id,
        idempotency_key=idempotency_key,
        request_hash=request_hash(body),
        kind=item.kind,
        item_title=item.title,
        quantity=body.quantity,
        unit_price=item.points_price,
        points_total=item.points_price * body.quantity,
        limit_month=month_key(services),
        state=OrderState.PENDING if physical else OrderState.COMPLETED,
        completed_at=None if physical else now,
        created_at=now,
        recipient=address.recipient if address else None,
        phone_enc=services.cipher.encrypt(address.phone) if address else None,
        region=address.region if address else None,
        address_detail=address.detail if address else None,
    )
    if order is None:  # a plain insert answers its row or raises
        raise RuntimeError("the mall order was not written")
    return order


# Both counters in one statement: a new row starts at the quantity, an existing one grows
# unless it is the limited period's and would pass the limit ($6: that period, $7: the limit;
# NULL when the item has none). A counter held back is not written and not returned, so fewer
# than two rows back means the limit is reached.
_COUNT = """
INSERT INTO "mall_redemption_counts" ("member_id", "item_id", "period", "count")
VALUES ($1, $2, $3, $5), ($1, $2, $4, $5)
ON CONFLICT ("member_id", "item_id", "period") DO UPDATE
SET "count" = "mall_redemption_counts"."count" + excluded."count"
WHERE "mall_redemption_counts"."period" <> $6
OR "mall_redemption_counts"."count" + excluded."count" <= $7
RETURNING "period"
"""


async def _count(
    conn: BaseDBAsyncClient, member_id: int, item: MallItem, quantity: int, month: str
) -> None:
    """Increment the member's lifetime and monthly counters; the item's limit bounds one."""
    limit = item.limit_count
    if limit is not None and quantity > limit:
        raise _limit_reached()
    limited = period_of(item, month) if limit is not None else ""
    parameters = [member_id, item.id, LIFETIME, month, quantity, limited, limit]
    if len(await rows_of_insert(conn, _COUNT, parameters)) != 2:
        raise _limit_reached()


def _limit_reached() -> Conflict:
    return Conflict("You have reached this item's redemption limit.", code="limit_reached")


async def _take_stock(
    services: Services, conn: BaseDBAsyncClient, item: MallItem, issued: int, quantity: int
) -> None:
    """The coupon template's stock for the coupons issued, then the item's; 409 `sold_out`.

    On PostgreSQL both updates are one statement, so the two rows every redemption of the item
    waits for are locked one round trip before the commit.
    """
    template_id = item.coupon_template_id if issued else None
    template_taken = True
    if template_id is not None and is_postgres(services.config):
        _, rows = await conn.execute_query(_TAKE_BOTH, [template_id, issued, quantity, item.id])
        [(template_taken, item_taken)] = rows
    else:
        if template_id is not None:
            template_taken = await coupons.take_stock(conn, template_id, units=issued)
        item_taken, _ = await conn.execute_query(
            placeholders(conn, _TAKE_ITEM_STOCK), [quantity, item.id]
        )
    if template_id is not None and not template_taken:
        raise await coupons.sold_out(services, template_id)
    if not item_taken:
        raise SoldOut("This item is sold out.")


async def _hand_over(
    services: Services, conn: BaseDBAsyncClient, order: MallOrder, item: MallItem
) -> int:
    """Issue the coupons or assign the codes of a completed order; the number of coupons
    issued, whose stock the caller takes."""
    fulfilment: dict[str, Any] = {}
    owed = 0
    if item.kind == ItemKind.COUPON:
        if item.coupon_template_id is None:
            raise Conflict("This item is not on sale.", code="not_on_sale")
        issued = []
        for n in range(order.quantity):
            try:
                coupon, created = await coupons.issue(
                    services,
                    order.member_id,
                    item.coupon_template_id,
                    reason="mall_redemption",
                    idempotency_key=f"mall:{order.id}:{n}",
                    using_db=conn,
                    stock_by_caller=True,
                )
            except DomainError as exc:
                if exc.code in _COUPON_GONE:
                    raise Conflict(
                        "This item's coupon is no longer available.", code="not_on_sale"
                    ) from exc
                raise
            issued.append({"id": coupon.id, "code": coupon.code})
            if created:
                owed += 1
        fulfilment["coupons"] = issued
    elif item.kind == ItemKind.VIRTUAL:
        fulfilment["codes"] = await _assign_codes(services, conn, order, item.id)
    else:
        return 0
    order.fulfilment = fulfilment
    stored = MallOrder._meta.fields_map["fulfilment"].to_db_value(fulfilment, order)
    await conn.execute_query(placeholders(conn, _FULFILMENT), [stored, order.id])
    return owed


async def _assign_codes(
    services: Services, conn: BaseDBAsyncClient, order: MallOrder, item_id: int
) -> list[str]:
    """Take `quantity` unassigned codes, each by a conditional update of its row."""
    now = services.clock.now()
    taken: list[str] = []
    for _ in range(CODE_ATTEMPTS):
        need = order.quantity - len(taken)
        query = MallCode.filter(item_id=item_id, order_id=None).order_by("id").limit(need)
        if is_postgres(services.config):
            query = query.select_for_update(skip_locked=True)
        # Model rows, not values_list(): only a model query carries FOR UPDATE in Tortoise.
        candidates = await query.using_db(conn)
        if not candidates:
            break
        for candidate in candidates:
            if (
                await MallCode.filter(id=candidate.id, order_id=None)
                .using_db(conn)
                .update(order_id=order.id, assigned_at=now)
            ):
                taken.append(candidate.code)
        if len(taken) == order.quantity:
            return taken
    # The stock taken above counts unassigned codes, so the pool cannot run dry here unless
    # the two disagree; refuse rather than hand over fewer codes than paid for.
    raise SoldOut("This item is sold out.")
