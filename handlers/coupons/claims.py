"""The coupon centre (领券中心): what a member may claim now, and claiming under flash-sale load.

A claim is one transaction that the database judges: the member's counter row for the template
goes up only while below the per-member limit, the template's stock goes down only while above
zero, then the coupon row is written. Several worker processes and any number of concurrent
requests cannot oversell or exceed a limit. In front of it, a Redis flag set when the database
first says "sold out" turns the rest of a flash sale away without touching the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from handlers.coupons.codes import validity_for
from handlers.coupons.issuing import (
    flag_sold_out,
    flagged_sold_out,
    insert_coupon,
    take_stock,
)
from handlers.coupons.templates import status_with_stock, template_public
from handlers.coupons.window import open_at, still_listed, window_refusal
from handlers.tiers.eligibility import eligible, member_level
from wxmember.core.context import Services
from wxmember.core.errors import Conflict, TemplateNotFound
from wxmember.core.models import Member
from wxmember.core.models.coupons import (
    Coupon,
    CouponSource,
    CouponStatus,
    CouponTemplate,
)
from wxmember.core.prepared import (
    db_moment,
    first_row_of_insert,
    ids_in,
    placeholders,
    read_rows,
)

_MESSAGES = {
    "not_claimable": "This coupon is not handed out in the coupon centre.",
    "not_started": "Claiming has not started yet.",
    "ended": "Claiming has ended.",
    "not_eligible": "This coupon is for other member tiers.",
    "limit_reached": "You already hold as many of this coupon as allowed.",
    "sold_out": "This coupon is sold out.",
}


def refusal(code: str) -> Conflict:
    """The 409 for a claim refused with this code."""
    return Conflict(_MESSAGES[code], code=code)


@dataclass(frozen=True)
class CentreEntry:
    """A template in the coupon centre, as this member sees it."""

    template: CouponTemplate
    definition: dict[str, Any]  # the template as the centre shows it, less what claims change
    remaining: int | None  # read with the visit: the template itself may be a cached copy
    claimed: int
    held: int
    claimable_count: int
    reason: str | None


# What a visit reads, in one statement: a page of templates' stock (part 0: template,
# remaining), the member's claim counters (part 1: template, count) and the unused valid coupons
# they hold (part 2: template, count). A template missing from part 0 was deleted.
_VISIT = """
SELECT 0, "id", "remaining" FROM "coupon_templates" WHERE "id" {ids}
UNION ALL
SELECT 1, "template_id", "count" FROM "coupon_claim_counters"
WHERE "member_id" = $1 AND "template_id" {ids}
UNION ALL
SELECT 2, "template_id", COUNT(*) FROM "coupons"
WHERE "member_id" = $1 AND "template_id" {ids} AND "status" = $2 AND "valid_until" > $3
GROUP BY "template_id"
"""


class _Visit(NamedTuple):
    stock: dict[int, int | None]  # remaining per template, None for unlimited
    claimed: dict[int, int]  # the member's claim counters, the judge of the per-member limit
    held: dict[int, int]  # the member's unused coupons still valid


async def _read_visit(member_id: int, template_ids: list[int], now: datetime) -> _Visit:
    """What claims change, for a page of templates and one member (`_VISIT`)."""
    conn = Coupon._meta.db
    ids_sql, ids = ids_in(conn, template_ids, number=4)
    sql = placeholders(conn, _VISIT.format(ids=ids_sql))
    valid_after = db_moment(Coupon, "valid_until", now)
    rows = await read_rows(conn, sql, [member_id, CouponStatus.UNUSED.value, valid_after, ids])
    visit = _Visit({}, {}, {})
    for part, template_id, value in rows:
        if part == 0:
            visit.stock[template_id] = value
        else:
            (visit.claimed if part == 1 else visit.held)[template_id] = value
    return visit


# What a claim changes, read with each visit instead of kept with the definition.
_CHANGED_BY_CLAIMS = ("remaining", "claimed", "total_stock", "status")
Listed = tuple[CouponTemplate, dict[str, Any]]


async def _listed(services: Services, now: datetime) -> list[Listed]:
    """The templates the centre lists at `now`, newest first, each with its definition as the
    centre shows it.

    They are kept under everyone's change mark (`MemberCache.shared`): every write to a
    template's definition calls `changed_everyone()` (handlers.coupons.templates). Templates
    listed when the list was read that have ended since are left out here; a template is never
    listed later than it was then (one not started yet is listed already).
    """

    async def load() -> list[Listed]:
        templates = await CouponTemplate.filter(open_at(now, listed=True)).order_by("-id")
        return [(template, _definition(services, template)) for template in templates]

    listed = await services.members.shared("coupon-centre", load)
    return [entry for entry in listed if still_listed(entry[0], now)]


def _definition(services: Services, template: CouponTemplate) -> dict[str, Any]:
    body = template_public(services, template)
    for name in _CHANGED_BY_CLAIMS:
        body.pop(name)
    if template.valid_days is None:
        tz = services.config.brand.tz
        until = validity_for(template, template.created_at, tz)[1]  # fixed: any moment will do
        body["coupon_valid_until"] = until.astimezone(tz).isoformat()
    else:
        body["coupon_valid_until"] = None
    return body


async def coupon_centre(
    services: Services, member: Member, after_id: int | None, limit: int
) -> list[CentreEntry]:
    """Claimable templates not yet ended, newest first (`limit + 1`), with this member's counts.

    The definitions come from `_listed`; one fixed statement reads what changes with claims:
    the page's stock, the member's claim counters, the very rows a claim counts on (so the
    centre and the claim never disagree about the limit), and the coupons they hold unused.
    """
    now = services.clock.now()
    listed = await _listed(services, now)
    if after_id is not None:
        listed = [entry for entry in listed if entry[0].id < after_id]
    page = listed[: limit + 1]
    visit = _Visit({}, {}, {})
    if page:
        visit = await _read_visit(member.id, [template.id for template, _ in page], now)
    stock, claimed, held = visit
    level = await member_level(member)
    entries = []
    for template, definition in page:
        if template.id not in stock:
            continue  # deleted since the list was read
        remaining = stock[template.id]
        mine = int(claimed.get(template.id, 0))
        left_for_me = max(template.per_member_limit - mine, 0)
        reason = window_refusal(template, now)
        if reason is None and not eligible(template.eligible_tiers, level):
            reason = "not_eligible"
        if reason is None and left_for_me == 0:
            reason = "limit_reached"
        if reason is None and remaining == 0:
            reason = "sold_out"
        if remaining is not None:
            left_for_me = min(left_for_me, remaining)
        held_now = int(held.get(template.id, 0))
        entries.append(
            CentreEntry(template, definition, remaining, mine, held_now, left_for_me, reason)
        )
    return entries


async def claim(services: Services, member: Member, template_id: int) -> Coupon:
    """Claim one coupon of a template in the coupon centre; refusals are 409s with a code."""
    if await flagged_sold_out(services, template_id):
        raise refusal("sold_out")
    template = await CouponTemplate.get_or_none(id=template_id)
    if template is None:
        raise TemplateNotFound()
    now = services.clock.now()
    reason = window_refusal(template, now)
    if reason is None and not eligible(template.eligible_tiers, await member_level(member)):
        reason = "not_eligible"
    if reason is None and template.remaining == 0:
        reason = "sold_out"
    try:
        if reason is not None:
            raise refusal(reason)
        try:
            return await _claim_once(services, member.id, template, now)
        except IntegrityError:
            # The only constraint a claim can break is a foreign key: the template was deleted.
            if not await CouponTemplate.exists(id=template_id):
                raise TemplateNotFound() from None
            raise
    except Conflict as exc:
        if exc.code == "sold_out":
            await flag_sold_out(services, template_id)
        raise


# The member's first claim of a template writes their counter at 1; a later one adds 1 while
# below the limit. No row back: the limit is reached. One statement, on both databases.
_COUNT_CLAIM = """
INSERT INTO "coupon_claim_counters" ("member_id", "template_id", "count") VALUES ($1, $2, 1)
ON CONFLICT ("member_id", "template_id") DO UPDATE
SET "count" = "coupon_claim_counters"."count" + 1
WHERE "coupon_claim_counters"."count" < $3
RETURNING "count"
"""


async def _claim_once(
    services: Services, member_id: int, template: CouponTemplate, now: datetime
) -> Coupon:
    async with in_transaction() as conn:
        counted = await first_row_of_insert(
            conn, _COUNT_CLAIM, [member_id, template.id, template.per_member_limit]
        )
        if counted is None:
            raise refusal("limit_reached")
        if not await take_stock(conn, template.id, claim_at=now):
            fresh = await CouponTemplate.get_or_none(id=template.id, using_db=conn)
            if fresh is None:
                raise TemplateNotFound()
            raise refusal(window_refusal(fresh, now) or "sold_out")
        coupon = await insert_coupon(
            services,
            conn,
            template,
            member_id,
            source=CouponSource.CLAIM,
            reason="claim",
            issue_key=None,
            now=now,
        )
        if coupon is None:  # only a taken issue key answers None, and a claim has none
            raise RuntimeError("a claimed coupon was not written")
        return coupon


def centre_public(services: Services, entry: CentreEntry) -> dict[str, Any]:
    """A coupon centre card: the template, the stock left and what this member may do."""
    now = services.clock.now()
    return entry.definition | {
        "remaining": entry.remaining,
        "status": status_with_stock(entry.template, entry.remaining, now),
        "held": entry.held,
        "claimed_by_me": entry.claimed,
        "can_claim": entry.reason is None,
        "claimable_count": entry.claimable_count if entry.reason is None else 0,
        "reason": entry.reason,
    }
