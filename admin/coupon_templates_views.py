"""Coupon templates: list, create, read, change, stop and delete (owner and operator)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints, field_validator

from admin.auth import STAFF, allow, current_operator
from handlers.coupons import templates as coupon_templates
from wxmember.core import keys
from wxmember.core.inputs import CleanLines, CleanText, page_query, path_id, query_enum, read_json
from wxmember.core.models.coupons import CouponKind, Obtain
from wxmember.core.web import json_response, page_body

MAX_FEN = 100_000_000

Title = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20), CleanText
]
Fen = Annotated[StrictInt, Field(ge=0, le=MAX_FEN)]
PositiveFen = Annotated[StrictInt, Field(ge=1, le=MAX_FEN)]
Stock = Annotated[StrictInt, Field(ge=1, le=MAX_FEN)]
Limit = Annotated[StrictInt, Field(ge=1, le=1000)]
Days = Annotated[StrictInt, Field(ge=1, le=3650)]
TierLevels = Annotated[list[Annotated[StrictInt, Field(ge=0, le=1000)]], Field(max_length=50)]
Terms = Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000), CleanLines]

_NOT_NULL = ("title", "kind", "value", "threshold_fen", "per_member_limit", "eligible_tiers")


class TemplateCreateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: Title
    kind: CouponKind
    value: Fen = 0
    threshold_fen: Fen = 0
    max_discount_fen: PositiveFen | None = None
    total_stock: Stock | None = None
    per_member_limit: Limit = 1
    claim_starts_at: datetime | None = None
    claim_ends_at: datetime | None = None
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    valid_days: Days | None = None
    eligible_tiers: TierLevels = []
    obtain: Obtain = Obtain.CLAIMABLE
    terms: Terms = ""


class TemplatePatchBody(BaseModel):
    """Only the fields sent change; null clears a nullable field."""

    model_config = ConfigDict(extra="forbid")
    title: Title | None = None
    kind: CouponKind | None = None
    value: Fen | None = None
    threshold_fen: Fen | None = None
    max_discount_fen: PositiveFen | None = None
    total_stock: Stock | None = None
    per_member_limit: Limit | None = None
    claim_starts_at: datetime | None = None
    claim_ends_at: datetime | None = None
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    valid_days: Days | None = None
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


@allow(*STAFF)
async def list_templates(request: web.Request) -> web.Response:
    services = request.config_dict[keys.SERVICES]
    after_id, limit = page_query(request)
    obtain = query_enum(request, "obtain", Obtain)
    found = await coupon_templates.list_templates(after_id, limit, obtain)
    items = [coupon_templates.template_public(services, t) for t in found]
    return json_response(page_body(items, [t.id for t in found], limit))


@allow(*STAFF)
async def create_template(request: web.Request) -> web.Response:
    services = request.config_dict[keys.SERVICES]
    body = await read_json(request, TemplateCreateBody)
    template = await coupon_templates.create_template(
        services, current_operator(request), body.model_dump()
    )
    return json_response(coupon_templates.template_public(services, template), status=201)


@allow(*STAFF)
async def get_template(request: web.Request) -> web.Response:
    services = request.config_dict[keys.SERVICES]
    template = await coupon_templates.get_template(path_id(request, "template_id"))
    return json_response(coupon_templates.template_public(services, template))


@allow(*STAFF)
async def update_template(request: web.Request) -> web.Response:
    services = request.config_dict[keys.SERVICES]
    template_id = path_id(request, "template_id")
    body = await read_json(request, TemplatePatchBody)
    template = await coupon_templates.update_template(
        services, current_operator(request), template_id, body.changes()
    )
    return json_response(coupon_templates.template_public(services, template))


@allow(*STAFF)
async def stop_template(request: web.Request) -> web.Response:
    services = request.config_dict[keys.SERVICES]
    template = await coupon_templates.stop_template(
        services, current_operator(request), path_id(request, "template_id")
    )
    return json_response(coupon_templates.template_public(services, template))


@allow(*STAFF)
async def delete_template(request: web.Request) -> web.Response:
    await coupon_templates.delete_template(
        current_operator(request), path_id(request, "template_id")
    )
    return web.Response(status=204)


def setup(app: web.Application) -> None:
    app.router.add_get("/coupon-templates", list_templates)
    app.router.add_post("/coupon-templates", create_template)
    app.router.add_get("/coupon-templates/{template_id}", get_template)
    app.router.add_patch("/coupon-templates/{template_id}", update_template)
    app.router.add_post("/coupon-templates/{template_id}/stop", stop_template)
    app.router.add_delete("/coupon-templates/{template_id}", delete_template)
