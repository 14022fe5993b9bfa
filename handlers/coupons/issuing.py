"""Coupons in members' hands: issuing, the member's list, expiry, and the shared stock rules.

Claiming in the coupon centre lives in `handlers.coupons.claims`, templates in
`handlers.coupons.templates`, the cashier's write-off in `handlers.coupons.writeoff`.

Stock is taken by one conditional update of the template row (`remaining >= 1`), in the same
transaction as the coupon row, so the database alone decides whether a coupon exists. Redis
only keeps a short-lived "sold out" flag per template that lets claims be refused without a
database round trip; losing it costs load, never correctness.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

from redis.exceptions import RedisError
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from handlers import audit
from handlers.coupons.codes import new_code, validity_for
from handlers.coupons.window import open_sql
from wxmember.core.context import Services
from wxmember.core.errors import (
    Conflict,
    DomainError,
    TemplateNotFound,
    ValidationFailed,
)
from wxmember.core.headers import STAFF_IDEMPOTENCY_KEY
from wxmember.core.kernel import continue_after, get_member, insert_once, transaction
from wxmember.core.member_cache import changed_everyone
from wxmember.core.models import Operator
from wxmember.core.models.coupons import (
    Coupon,
    CouponSource,
    CouponStatus,
    CouponTemplate,
)
from wxmember.core.prepared import RowsBy, db_moment, placeholders, read_rows

log = logging.getLogger(__name__)

CODE_ATTEMPTS = 5
MAX_REASON_LENGTH = 64
MAX_KEY_LENGTH = 160


# A template with `units` coupons left to take: unlimited or enough remaining, and not stopped.
_IN_STOCK = '"stopped" = FALSE AND ("remaining" IS NULL OR "remaining" >= {units})'
_STILL_IN_STOCK = (
    f'SELECT 1 FROM "coupon_templates" WHERE "id" = $1 AND {_IN_STOCK.format(units=1)}'
)
# Taking stock: $1 the template, $2 the units (a redemption runs it beside its item's update).
TAKE_STOCK = f"""
UPDATE "coupon_templates" SET "remaining" = "remaining" - $2, "claimed" = "claimed" + $2
WHERE "id" = $1 AND {_IN_STOCK.format(units="$2")}
"""
_TAKE_AT = f"{TAKE_STOCK} AND {open_sql('$3')}"
_GIVE_BACK = """
UPDATE "coupon_templates" SET "remaining" = "remaining" + 1, "claimed" = "claimed" - 1
WHERE "id" = $1
"""
_TEMPLATE = RowsBy(CouponTemplate, "id", limit=1)
_BY_ISSUE_KEY = RowsBy(Coupon, "issue_key", limit=1)


def soldout_key(template_id: int) -> str:
    """The Redis key of a template's sold-out flag."""
    return f"coupon:{template_id}:soldout"


SOLD_OUT_HERE = "coupons-sold-out"
"""The templates this process knows sold out (`MemberCache.noted`): kept while no change
concerns everyone. Only an operator gives a sold-out template stock again, and that change is
everyone's (`clear_sold_out`), so a refusal needs no Redis round trip once a process knows."""


async def flag_sold_out(services: Services, template_id: int) -> None:
    """Remember in Redis, and in this process, that the database said "sold out" (best effort).

    The refusal was read before the flag is set, and an operator may have added stock (and
    cleared the flag) in between: the flag would then hide stock for its whole lifetime. So
    the stock is read again after the flag is set, and a flag the database now disagrees with
    is taken back. Stock added after that read clears the flag itself (`clear_sold_out` runs
    after the stock is committed), so one of the two always removes a stale flag.
    """
    if not services.config.coupons.redis_precheck:
        return
    known = await services.members.noted(SOLD_OUT_HERE)
    known.add(template_id)
    key = soldout_key(template_id)
    try:
        await services.redis.set(key, b"1", ex=services.config.coupons.soldout_flag_seconds)
    except (RedisError, OSError) as exc:
        log.warning("could not set the sold-out flag", extra={"error": repr(exc)})
    conn = CouponTemplate._meta.db
    if await read_rows(conn, placeholders(conn, _STILL_IN_STOCK), [template_id]):
        known.discard(template_id)
        try:
            await services.redis.delete(key)
        except (RedisError, OSError) as exc:
            log.warning("could not clear the sold-out flag", extra={"error": repr(exc)})


async def flagged_sold_out(services: Services, template_id: int) -> bool:
    """Whether this process or Redis knows the template sold out; False when neither can say."""
    if not services.config.coupons.redis_precheck:
        return False
    known = await services.members.noted(SOLD_OUT_HERE)
    if template_id in known:
        return True
    try:
        flagged = bool(await services.redis.exists(soldout_key(template_id)))
    except (RedisError, OSError) as exc:
        log.warning("could not read the sold-out flag", extra={"error": repr(exc)})
        return False
    if flagged:
        known.add(template_id)
    return flagged


async def clear_sold_out(services: Services, template_id: int) -> None:
    """Forget the flag after stock was added, in Redis and in every process."""
    changed_everyone()  # every process's `SOLD_OUT_HERE` is dropped with everyone's mark
    try:
        await services.redis.delete(soldout_key(template_id))
    except (RedisError, OSError) as exc:
        log.warning("could not clear the sold-out flag", extra={"error": repr(exc)})


async def take_stock(
    conn: BaseDBAsyncClient,
    template_id: int,
    *,
    claim_at: datetime | None = None,
    units: int = 1,
) -> bool:
    """Take coupons from the template's stock, or False (sold out, stopped, or not claimable).

    `claim_at` adds the claim rules (claimable, within the claim window) to the condition so
    that a template changed meanwhile cannot be claimed.
    """
    sql = TAKE_STOCK
    parameters: list[object] = [template_id, units]
    if claim_at is not None:
        sql = _TAKE_AT
        parameters.append(db_moment(CouponTemplate, "claim_ends_at", claim_at))
    updated, _ = await conn.execute_query(placeholders(conn, sql), parameters)
    return updated == 1


async def sold_out(services: Services, template_id: int) -> Conflict:
    """409 `sold_out` for an issue the template's stock refused, its flag set (best effort)."""
    await flag_sold_out(services, template_id)
    return Conflict("This coupon is sold out.", code="sold_out")


async def _give_back(conn: BaseDBAsyncClient, template_id: int) -> None:
    """Undo `take_stock` in the same transaction (an issue that found its key taken)."""
    await conn.execute_query(placeholders(conn, _GIVE_BACK), [template_id])


async def insert_coupon(
    services: Services,
    conn: BaseDBAsyncClient,
    template: CouponTemplate,
    member_id: int,
    *,
    source: CouponSource,
    reason: str,
    issue_key: str | None,
    now: datetime,
) -> Coupon | None:
    """Create the coupon row with a fresh unique code (a new code on the rare collision).

    None when `issue_key` is taken already (by a transaction that committed first).
    """
    valid_from, valid_until = validity_for(template, now, services.config.brand.tz)
    for _ in range(CODE_ATTEMPTS):
        coupon = await insert_once(
            Coupon,
            conn,
            code=new_code(),
            template=template,
            member_id=member_id,
            source=source,
            reason=reason,
            issue_key=issue_key,
            valid_from=valid_from,
            valid_until=valid_until,
            created_at=now,
        )
        if coupon is not None:
            return coupon
        if issue_key is not None:
            if await Coupon.filter(issue_key=issue_key).using_db(conn).exists():
                return None
    raise RuntimeError("could not find a free coupon code")


def _check_issue_args(reason: str, idempotency_key: str) -> None:
    if not reason or len(reason) > MAX_REASON_LENGTH:
        raise ValidationFailed(
            f"reason must be 1..{MAX_REASON_LENGTH} characters.", code="invalid_reason"
        )
    if not idempotency_key or len(idempotency_key) > MAX_KEY_LENGTH:
        raise ValidationFailed(
            f"The idempotency key must be 1..{MAX_KEY_LENGTH} characters.",
            code="invalid_idempotency_key",
        )


def _replayed(coupon: Coupon, member_id: int, template_id: int) -> Coupon:
    if coupon.member_id != member_id or coupon.template_id != template_id:
        raise Conflict(
            "This idempotency key was used for a different coupon.",
            code="idempotency_key_reused",
        )
    return coupon


async def issue(
    services: Services,
    member_id: int,
    template_id: int,
    *,
    reason: str,
    idempotency_key: str,
    using_db: BaseDBAsyncClient | None = None,
    stock_by_caller: bool = False,
) -> tuple[Coupon, bool]:
    """`issue_coupon`, also telling whether this call created the coupon (False: a replay).

    With `stock_by_caller` the stock of a created coupon is left to the caller, who takes it
    (`take_stock`, refusing with `sold_out`) before its transaction ends: a redemption takes
    its most contended rows last, so that their locks are held only until the commit.
    """
    _check_issue_args(reason, idempotency_key)
    now = services.clock.now()
    async with transaction(using_db) as conn:
        found = await _TEMPLATE.first(conn, template_id)
        try:
            template = _issuable(found, now, services.config.brand.tz)
            await get_member(member_id, using_db=conn)
            # Stock first: a refusal has written nothing, so no savepoint is needed.
            if not stock_by_caller and not await take_stock(conn, template_id):
                raise await sold_out(services, template_id)
        except DomainError:
            # The same key again answers the first coupon, whatever the template is now.
            existing = await _BY_ISSUE_KEY.first(conn, idempotency_key)
            if existing is not None:
                return _replayed(existing, member_id, template_id), False
            raise
        coupon = await insert_coupon(
            services,
            conn,
            template,
            member_id,
            source=CouponSource.ISSUE,
            reason=reason,
            issue_key=idempotency_key,
            now=now,
        )
        if coupon is None:
            # Another transaction issued under the same key first and has committed.
            if not stock_by_caller:
                await _give_back(conn, template_id)
            winner = await Coupon.get(issue_key=idempotency_key, using_db=conn)
            return _replayed(winner, member_id, template_id), False
    return coupon, True


def _issuable(template: CouponTemplate | None, now: datetime, tz: ZoneInfo) -> CouponTemplate:
    """The template, unless it is gone, stopped, or its coupons would already be over."""
    if template is None:
        raise TemplateNotFound()
    if template.stopped:
        raise Conflict("This coupon has been stopped.", code="template_stopped")
    if validity_for(template, now, tz)[1] <= now:
        raise Conflict("This coupon's validity is over.", code="template_expired")
    return template


async def issue_coupon(
    services: Services,
    member_id: int,
    template_id: int,
    *,
    reason: str,
    idempotency_key: str,
    using_db: BaseDBAsyncClient | None = None,
) -> Coupon:
    """Give a member a coupon from any flow (welcome, tier, birthday, mall, operator grant).

    Takes stock when the template has a limited stock (Conflict `sold_out`), but ignores the
    claim window, the claimable flag, eligible tiers and the per-member claim limit: those
    govern the coupon centre. Joins the caller's transaction; the same key returns the first
    coupon.
    """
    coupon, _ = await issue(
        services,
        member_id,
        template_id,
        reason=reason,
        idempotency_key=idempotency_key,
        using_db=using_db,
    )
    return coupon


def grant_key(member_id: int, header: str | None) -> str:
    """The idempotency key of an operator's grant: the client's key for this member (the rule
    is `STAFF_IDEMPOTENCY_KEY`), or a fresh key without one (every call grants)."""
    key = STAFF_IDEMPOTENCY_KEY.read(header)
    return f"grant:{member_id}:{key if key is not None else uuid.uuid4().hex}"


async def grant_coupon(
    services: Services,
    actor: Operator,
    member_id: int,
    template_id: int,
    *,
    reason: str,
    idempotency_key: str,
) -> tuple[Coupon, bool]:
    """An operator gives a member a coupon; audited. True when this call created it.

    The coupon comes with its template loaded, as the operator is shown both.
    """
    async with in_transaction() as conn:
        coupon, created = await issue(
            services,
            member_id,
            template_id,
            reason=reason,
            idempotency_key=idempotency_key,
            using_db=conn,
        )
        if created:
            await audit.record(
                actor,
                "coupon.grant",
                "coupon",
                coupon.id,
                after={
                    "member_id": member_id,
                    "template_id": template_id,
                    "code": coupon.code,
                    "reason": reason,
                },
                using_db=conn,
            )
    await coupon.fetch_related("template")
    return coupon, created


def _status_filter(status: CouponStatus, now: datetime) -> Q:
    if status == CouponStatus.UNUSED:
        return Q(status=CouponStatus.UNUSED, valid_until__gt=now)
    if status == CouponStatus.EXPIRED:
        return Q(status=CouponStatus.EXPIRED) | Q(status=CouponStatus.UNUSED, valid_until__lte=now)
    return Q(status=CouponStatus.USED)


async def member_coupons(
    services: Services,
    member_id: int,
    status: CouponStatus | None,
    after_id: int | None,
    limit: int,
) -> list[Coupon]:
    """A member's coupons, newest first, `limit + 1` of them (the caller pages).

    404 `member_not_found` for an unknown member (asked only when the page is empty).
    """
    query = Coupon.filter(member_id=member_id).select_related("template").order_by("-id")
    if status is not None:
        query = query.filter(_status_filter(status, services.clock.now()))
    query = continue_after(query, after_id)
    found = await query.limit(limit + 1)
    if not found:
        await get_member(member_id, include_deleted=True)
    return found


async def mark_expired_coupons(
    services: Services, now: datetime | None = None, batch_size: int = 1000
) -> int:
    """Mark unused coupons past their validity as expired, in batches; returns how many."""
    now = now or services.clock.now()
    total = 0
    while True:
        ids = await (
            Coupon.filter(status=CouponStatus.UNUSED, valid_until__lte=now)
            .order_by("id")
            .limit(batch_size)
            .values_list("id", flat=True)
        )
        if not ids:
            return total
        total += await Coupon.filter(
            id__in=ids, status=CouponStatus.UNUSED, valid_until__lte=now
        ).update(status=CouponStatus.EXPIRED, status_changed_at=now)
        if len(ids) < batch_size:
            return total
