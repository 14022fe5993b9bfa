"""Coupon templates: the rules that tie a template's fields together, and operators' changes.

Field shapes (types, ranges, lengths) are checked where requests are parsed; the rules that
involve several fields are here, so they hold for every caller:

- cash: `value` fen off (>= 1); discount: `value` percent off (1..99), optional
  `max_discount_fen`; gift: `value` 0. Only discounts have a cap.
- validity: fixed (`valid_from` < `valid_until`) or `valid_days`, exactly one of the two.
- claim window: `claim_starts_at` < `claim_ends_at`, and no later than a fixed `valid_until`.
- eligible tiers are tier levels that exist; empty means every tier.

Once a template has handed out a coupon its kind, value, threshold and cap are locked (the
coupons already out mean what they said), stock cannot drop below what was handed out, and it
can be stopped but not deleted. Naive datetimes are read in the brand's time zone.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.functions import Count
from tortoise.transactions import in_transaction

from handlers import audit
from handlers.coupons.codes import describe
from handlers.coupons.issuing import clear_sold_out
from wxmember.core.context import Services
from wxmember.core.errors import Conflict, TemplateNotFound, ValidationFailed
from wxmember.core.kernel import continue_after
from wxmember.core.member_cache import changed_everyone
from wxmember.core.models import Operator, Tier
from wxmember.core.models.coupons import (
    Coupon,
    CouponKind,
    CouponStatus,
    CouponTemplate,
    Obtain,
)

FIELDS = (
    "title",
    "kind",
    "value",
    "threshold_fen",
    "max_discount_fen",
    "total_stock",
    "per_member_limit",
    "claim_starts_at",
    "claim_ends_at",
    "valid_from",
    "valid_until",
    "valid_days",
    "eligible_tiers",
    "obtain",
    "terms",
)
LOCKED_ONCE_CLAIMED = ("kind", "value", "threshold_fen", "max_discount_fen")
MAX_STOCK = 100_000_000
_DATETIMES = ("claim_starts_at", "claim_ends_at", "valid_from", "valid_until")


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(
        f"{field}: {message}", code=f"invalid_{field}", details={"field": field}
    )


def _check_value(values: dict[str, Any]) -> None:
    kind, value = CouponKind(values["kind"]), values["value"]
    if kind == CouponKind.CASH and value < 1:
        raise _invalid("value", "a cash coupon takes at least 1 fen off")
    if kind == CouponKind.DISCOUNT and not 1 <= value <= 99:
        raise _invalid("value", "a discount is 1..99 percent off")
    if kind == CouponKind.GIFT and value != 0:
        raise _invalid("value", "a gift coupon has value 0; describe the gift in title and terms")
    if kind != CouponKind.DISCOUNT and values["max_discount_fen"] is not None:
        raise _invalid("max_discount_fen", "only discount coupons have a cap")


def _check_dates(values: dict[str, Any]) -> None:
    fixed = (values["valid_from"], values["valid_until"])
    has_fixed = all(v is not None for v in fixed)
    if any(v is not None for v in fixed) and not has_fixed:
        raise _invalid("validity", "give both valid_from and valid_until")
    if has_fixed == (values["valid_days"] is not None):
        raise _invalid("validity", "give either valid_from and valid_until, or valid_days")
    if has_fixed and values["valid_from"] >= values["valid_until"]:
        raise _invalid("valid_until", "must be after valid_from")
    starts, ends = values["claim_starts_at"], values["claim_ends_at"]
    if starts is not None and ends is not None and starts >= ends:
        raise _invalid("claim_ends_at", "must be after claim_starts_at")
    if has_fixed and ends is not None and ends > values["valid_until"]:
        raise _invalid("claim_ends_at", "claiming must end by valid_until")


async def check_fields(services: Services, values: dict[str, Any]) -> dict[str, Any]:
    """Normalise (time zones, tier list) and check the rules across fields."""
    tz = services.config.brand.tz
    for name in _DATETIMES:
        moment = values.get(name)
        if isinstance(moment, datetime) and moment.tzinfo is None:
            values[name] = moment.replace(tzinfo=tz)
    _check_value(values)
    _check_dates(values)
    levels = sorted(set(values["eligible_tiers"]))
    if levels:
        known = set(await Tier.filter(level__in=levels).values_list("level", flat=True))
        unknown = [level for level in levels if level not in known]
        if unknown:
            raise _invalid("eligible_tiers", f"no tier has level {unknown[0]}")
    values["eligible_tiers"] = levels
    values["kind"] = CouponKind(values["kind"])
    values["obtain"] = Obtain(values["obtain"])
    return values


def template_status(template: CouponTemplate, now: datetime) -> str:
    """stopped, ended, sold_out, scheduled or active."""
    return status_with_stock(template, template.remaining, now)


def status_with_stock(template: CouponTemplate, remaining: int | None, now: datetime) -> str:
    """`template_status` with the stock read apart from the rest of the template."""
    if template.stopped:
        return "stopped"
    for end in (template.claim_ends_at, template.valid_until):
        if end is not None and now >= end:
            return "ended"
    if remaining == 0:
        return "sold_out"
    if template.claim_starts_at is not None and now < template.claim_starts_at:
        return "scheduled"
    return "active"


def _snapshot(template: CouponTemplate) -> dict[str, Any]:
    return audit.snapshot(
        {name: getattr(template, name) for name in FIELDS}
        | {
            "remaining": template.remaining,
            "claimed": template.claimed,
            "stopped": template.stopped,
        }
    )


def template_public(services: Services, template: CouponTemplate) -> dict[str, Any]:
    """A template as operators and the coupon centre see it, dates in the brand's zone."""
    tz = services.config.brand.tz

    def local(moment: datetime | None) -> str | None:
        return moment.astimezone(tz).isoformat() if moment is not None else None

    return {
        "id": template.id,
        "title": template.title,
        "kind": CouponKind(template.kind).value,
        "value": template.value,
        "threshold_fen": template.threshold_fen,
        "max_discount_fen": template.max_discount_fen,
        "description": describe(
            template.kind, template.value, template.threshold_fen, template.max_discount_fen
        ),
        "total_stock": template.total_stock,
        "remaining": template.remaining,
        "claimed": template.claimed,
        "per_member_limit": template.per_member_limit,
        "claim_starts_at": local(template.claim_starts_at),
        "claim_ends_at": local(template.claim_ends_at),
        "valid_from": local(template.valid_from),
        "valid_until": local(template.valid_until),
        "valid_days": template.valid_days,
        "eligible_tiers": list(template.eligible_tiers),
        "obtain": Obtain(template.obtain).value,
        "terms": template.terms,
        "stopped": template.stopped,
        "status": template_status(template, services.clock.now()),
        "created_at": local(template.created_at),
        "updated_at": local(template.updated_at),
    }


async def create_template(
    services: Services, actor: Operator | None, values: dict[str, Any]
) -> CouponTemplate:
    """Create a template from every field (missing ones take defaults); audited for operators."""
    defaults: dict[str, Any] = {
        "value": 0,
        "threshold_fen": 0,
        "max_discount_fen": None,
        "total_stock": None,
        "per_member_limit": 1,
        "claim_starts_at": None,
        "claim_ends_at": None,
        "valid_from": None,
        "valid_until": None,
        "valid_days": None,
        "eligible_tiers": [],
        "obtain": Obtain.CLAIMABLE,
        "terms": "",
    }
    values = await check_fields(services, defaults | values)
    async with in_transaction() as conn:
        template = await CouponTemplate.create(
            **values, remaining=values["total_stock"], using_db=conn
        )
        changed_everyone()  # the coupon centre keeps the definitions it lists
        if actor is not None:
            await audit.record(
                actor,
                "coupon_template.create",
                "coupon_template",
                template.id,
                after=_snapshot(template),
                using_db=conn,
            )
    return template


async def get_template(template_id: int) -> CouponTemplate:
    """One template, or 404 `template_not_found`."""
    template = await CouponTemplate.get_or_none(id=template_id)
    if template is None:
        raise TemplateNotFound()
    return template


async def list_templates(
    after_id: int | None, limit: int, obtain: Obtain | None = None
) -> list[CouponTemplate]:
    """Newest first, `limit + 1` rows (the caller pages)."""
    query = CouponTemplate.all().order_by("-id")
    if obtain is not None:
        query = query.filter(obtain=obtain)
    query = continue_after(query, after_id)
    return await query.limit(limit + 1)


def grantable(now: datetime) -> Q:
    """Templates that can be given to a member at `now`: not stopped, stock left, still valid."""
    return (
        Q(stopped=False)
        & (Q(remaining__isnull=True) | Q(remaining__gt=0))
        & (Q(valid_until__isnull=True) | Q(valid_until__gt=now))
    )


async def grantable_templates(services: Services, limit: int = 200) -> list[CouponTemplate]:
    """Templates an operator can give a member now: not stopped, stock left, still valid."""
    query = CouponTemplate.filter(grantable(services.clock.now()))
    return await query.order_by("-id").limit(limit)


async def update_template(
    services: Services, actor: Operator, template_id: int, changes: dict[str, Any]
) -> CouponTemplate:
    """Change some fields; the lock on the row keeps claims out while stock is recomputed."""
    async with in_transaction() as conn:
        template = (
            await CouponTemplate.select_for_update().using_db(conn).get_or_none(id=template_id)
        )
        if template is None:
            raise TemplateNotFound()
        before = _snapshot(template)
        current = {name: getattr(template, name) for name in FIELDS}
        values = await check_fields(services, current | changes)
        if template.claimed > 0:
            locked = [name for name in LOCKED_ONCE_CLAIMED if values[name] != current[name]]
            if locked:
                raise Conflict(
                    f"Coupons of this template are out; {locked[0]} can no longer change.",
                    code="template_locked",
                    details={"field": locked[0]},
                )
        total = values["total_stock"]
        if total is not None and total < template.claimed:
            raise Conflict(
                f"{template.claimed} coupons are already out; stock cannot be lower.",
                code="stock_below_claimed",
            )
        for name, value in values.items():
            setattr(template, name, value)
        template.remaining = None if total is None else total - template.claimed
        await template.save(using_db=conn)
        changed_everyone()
        await audit.record(
            actor,
            "coupon_template.update",
            "coupon_template",
            template.id,
            before=before,
            after=_snapshot(template),
            using_db=conn,
        )
    if "total_stock" in changes:
        await clear_sold_out(services, template.id)
    return template


async def add_stock(
    services: Services, actor: Operator, template_id: int, add: int
) -> CouponTemplate:
    """Add `add` coupons to a limited template's stock, under its row lock (audited).

    400 `invalid_add` unless 1..MAX_STOCK and the total stays within it; 409 `stock_unlimited`
    for a template without a stock limit.
    """
    if not 1 <= add <= MAX_STOCK:
        raise _invalid("add", f"add 1..{MAX_STOCK} coupons")
    async with in_transaction() as conn:
        template = (
            await CouponTemplate.select_for_update().using_db(conn).get_or_none(id=template_id)
        )
        if template is None:
            raise TemplateNotFound()
        if template.total_stock is None or template.remaining is None:
            raise Conflict("This template has no stock limit.", code="stock_unlimited")
        if template.total_stock + add > MAX_STOCK:
            raise _invalid("add", f"the stock cannot exceed {MAX_STOCK}")
        before = _snapshot(template)
        template.total_stock += add
        template.remaining += add
        await template.save(using_db=conn, update_fields=["total_stock", "remaining", "updated_at"])
        await audit.record(
            actor,
            "coupon_template.stock",
            "coupon_template",
            template.id,
            before=before,
            after=_snapshot(template) | {"add": add},
            using_db=conn,
        )
    await clear_sold_out(services, template.id)
    return template


async def usage_counts(template_ids: list[int]) -> dict[int, dict[str, int]]:
    """Coupons of each template by status (unused, used, expired), in one grouped query."""
    counts: dict[int, dict[str, int]] = {
        template_id: {status.value: 0 for status in CouponStatus} for template_id in template_ids
    }
    if not template_ids:
        return counts
    rows = await (
        Coupon.filter(template_id__in=template_ids)
        .annotate(n=Count("id"))
        .group_by("template_id", "status")
        .values("template_id", "status", "n")
    )
    for row in rows:
        counts[row["template_id"]][CouponStatus(row["status"]).value] = row["n"]
    return counts


async def stop_template(services: Services, actor: Operator, template_id: int) -> CouponTemplate:
    """No more claims or issues from this template; coupons already out stay valid."""
    async with in_transaction() as conn:
        template = (
            await CouponTemplate.select_for_update().using_db(conn).get_or_none(id=template_id)
        )
        if template is None:
            raise TemplateNotFound()
        if template.stopped:
            return template
        before = _snapshot(template)
        template.stopped = True
        template.stopped_at = services.clock.now()
        await template.save(using_db=conn, update_fields=["stopped", "stopped_at", "updated_at"])
        changed_everyone()
        await audit.record(
            actor,
            "coupon_template.stop",
            "coupon_template",
            template.id,
            before=before,
            after=_snapshot(template),
            using_db=conn,
        )
    return template


async def delete_template(actor: Operator, template_id: int) -> None:
    """Delete a template that never handed out a coupon (409 `template_in_use` otherwise)."""
    in_use = Conflict("Coupons of this template are out; stop it instead.", code="template_in_use")
    try:
        async with in_transaction() as conn:
            template = (
                await CouponTemplate.select_for_update().using_db(conn).get_or_none(id=template_id)
            )
            if template is None:
                raise TemplateNotFound()
            deleted = await CouponTemplate.filter(id=template_id, claimed=0).using_db(conn).delete()
            if not deleted:
                raise in_use
            changed_everyone()
            await audit.record(
                actor,
                "coupon_template.delete",
                "coupon_template",
                template_id,
                before=_snapshot(template),
                using_db=conn,
            )
    except IntegrityError:
        raise in_use from None
