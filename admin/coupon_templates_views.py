"""Coupon templates: list, create, read, change, stop and delete (owner and operator)."""

from __future__ import annotations

from typing import Annotated, Any

from aiohttp import web
from pydantic import Field, StringConstraints, field_validator

from admin.auth import STAFF, allow, current_operator
from admin.responses import CouponTemplate, CouponTemplatePage
from handlers.coupons import templates as coupon_templates
from wxmember.core import keys
from wxmember.core.endpoints import Routes
from wxmember.core.inputs import Body, CleanLines, CleanText, LocalMoment, Page
from wxmember.core.models.coupons import CouponKind, Obtain
from wxmember.core.web import json_response, page_body

routes = Routes()

MAX_FEN = 100_000_000

Title = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20), CleanText
]
Fen = Annotated[int, Field(strict=True, ge=0, le=MAX_FEN)]
MaybeFen = Annotated[int | None, Field(strict=True, ge=0, le=MAX_FEN)]
MaybePositiveFen = Annotated[int | None, Field(strict=True, ge=1, le=MAX_FEN)]
MaybeStock = Annotated[int | None, Field(strict=True, ge=1, le=MAX_FEN)]
PerMember = Annotated[int, Field(strict=True, ge=1, le=1000)]
MaybePerMember = Annotated[int | None, Field(strict=True, ge=1, le=1000)]
MaybeDays = Annotated[int | None, Field(strict=True, ge=1, le=3650)]
TierLevels = Annotated[
    list[Annotated[int, Field(strict=True, ge=0, le=1000)]], Field(max_length=50)
]
Terms = Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000), CleanLines]
# A time without an offset (or a date) is the brand's local time: the handler reads it so.
When = LocalMoment | None

_NOT_NULL = ("title", "kind", "value", "threshold_fen", "per_member_limit", "eligible_tiers")

FIELD_ERRORS = (
    "invalid_value",
    "invalid_max_discount_fen",
    "invalid_validity",
    "invalid_valid_until",
    "invalid_claim_ends_at",
    "invalid_eligible_tiers",
)


class TemplateCreateBody(Body):
    title: Title
    kind: CouponKind
    value: Fen = 0
    threshold_fen: Fen = 0
    max_discount_fen: MaybePositiveFen = None
    total_stock: MaybeStock = None
    per_member_limit: PerMember = 1
    claim_starts_at: When = None
    claim_ends_at: When = None
    valid_from: When = None
    valid_until: When = None
    valid_days: MaybeDays = None
    eligible_tiers: TierLevels = []
    obtain: Obtain = Obtain.CLAIMABLE
    terms: Terms = ""


class TemplatePatchBody(Body):
    """Only the fields sent change; null clears a nullable field."""

    title: Title | None = None
    kind: CouponKind | None = None
    value: MaybeFen = None
    threshold_fen: MaybeFen = None
    max_discount_fen: MaybePositiveFen = None
    total_stock: MaybeStock = None
    per_member_limit: MaybePerMember = None
    claim_starts_at: When = None
    claim_ends_at: When = None
    valid_from: When = None
    valid_until: When = None
    valid_days: MaybeDays = None
    eligible_tiers: TierLevels | None = None
    obtain: Obtain | None = None
    terms: Terms | None = None

    @field_validator(*_NOT_NULL, "obtain", "terms", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("may not be null")
        return value

    def changes(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.model_fields_set}


class TemplatesQuery(Page):
    obtain: Obtain | None = None


@routes.get("/coupon-templates", query=TemplatesQuery, response=CouponTemplatePage)
@allow(*STAFF)
async def list_templates(request: web.Request, query: TemplatesQuery) -> web.Response:
    """Coupon templates, newest first, of every way of obtaining or one."""
    services = request.config_dict[keys.SERVICES]
    found = await coupon_templates.list_templates(query.cursor, query.limit, query.obtain)
    items = [coupon_templates.template_public(services, t) for t in found]
    return json_response(page_body(items, [t.id for t in found], query.limit))


@routes.post(
    "/coupon-templates",
    body=TemplateCreateBody,
    status=201,
    response=CouponTemplate,
    errors=FIELD_ERRORS,
)
@allow(*STAFF)
async def create_template(request: web.Request, body: TemplateCreateBody) -> web.Response:
    """Create a coupon template (audited)."""
    services = request.config_dict[keys.SERVICES]
    template = await coupon_templates.create_template(
        services, current_operator(request), body.model_dump()
    )
    return json_response(coupon_templates.template_public(services, template), status=201)


@routes.get(
    "/coupon-templates/{template_id}", response=CouponTemplate, errors=("template_not_found",)
)
@allow(*STAFF)
async def get_template(request: web.Request, template_id: int) -> web.Response:
    """One coupon template."""
    services = request.config_dict[keys.SERVICES]
    template = await coupon_templates.get_template(template_id)
    return json_response(coupon_templates.template_public(services, template))


@routes.patch(
    "/coupon-templates/{template_id}",
    body=TemplatePatchBody,
    response=CouponTemplate,
    errors=("template_not_found", "template_locked", "stock_below_claimed", *FIELD_ERRORS),
)
@allow(*STAFF)
async def update_template(
    request: web.Request, template_id: int, body: TemplatePatchBody
) -> web.Response:
    """Change the fields sent; what coupons already out promised stays locked (audited)."""
    services = request.config_dict[keys.SERVICES]
    template = await coupon_templates.update_template(
        services, current_operator(request), template_id, body.changes()
    )
    return json_response(coupon_templates.template_public(services, template))


@routes.post(
    "/coupon-templates/{template_id}/stop",
    response=CouponTemplate,
    errors=("template_not_found",),
)
@allow(*STAFF)
async def stop_template(request: web.Request, template_id: int) -> web.Response:
    """Stop claims and issues from a template; coupons already out stay valid (audited)."""
    services = request.config_dict[keys.SERVICES]
    template = await coupon_templates.stop_template(
        services, current_operator(request), template_id
    )
    return json_response(coupon_templates.template_public(services, template))


@routes.delete(
    "/coupon-templates/{template_id}",
    status=204,
    errors=("template_not_found", "template_in_use"),
)
@allow(*STAFF)
async def delete_template(request: web.Request, template_id: int) -> web.Response:
    """Delete a template that never handed out a coupon (audited)."""
    await coupon_templates.delete_template(current_operator(request), template_id)
    return web.Response(status=204)
