"""The admin sub-application: operator sessions, roles and every admin route."""

from __future__ import annotations

from aiohttp import web

from admin import (
    benefits_views,
    campaigns_views,
    checkin_rules_views,
    coupon_templates_views,
    mall_views,
    member_coupons_views,
    member_imports_views,
    member_wallet_views,
    members_views,
    openapi_views,
    operators_views,
    points_views,
    pos_coupons_views,
    pos_views,
    referrals_views,
    reminders_views,
    saved_segments_views,
    segments_views,
    stores_views,
    tags_views,
    tiers_views,
    wallet_card_views,
)
from admin.auth import (
    EVERYONE,
    ROLES_ATTR,
    check_routes_declare_roles,
    operator_auth_middleware,
)
from wxmember.core.endpoints import ENDPOINTS, Endpoint, mount
from wxmember.core.openapi import Access, attach, build_document

MODULES = (
    operators_views,
    coupon_templates_views,
    member_coupons_views,
    pos_coupons_views,
    members_views,
    tiers_views,
    benefits_views,
    mall_views,
    pos_views,
    points_views,
    checkin_rules_views,
    reminders_views,
    tags_views,
    member_imports_views,
    segments_views,
    saved_segments_views,
    campaigns_views,
    referrals_views,
    stores_views,
    wallet_card_views,
    member_wallet_views,
    openapi_views,
)

# The document's `info.version`: bumped for every breaking change within the URL's /v1
# (README, "API documents"); `wxmember openapi --check` refuses a breaking change without it.
API_VERSION = "1"

DESCRIPTION = (
    "The API of the brand's staff: owners, operators and cashiers (the console and the till "
    "use the same handlers). Staff log in with `POST /login` and send the token as "
    "`Authorization: Bearer <token>` on every other call; `x-roles` lists the roles that may "
    "call a route, any other role gets 403 `role_not_allowed`. Every refusal is "
    '`{"error": {"code", "message", "details"?}}` with a stable code (listed per response '
    "under `x-error-codes`); any route may answer 503 `server_busy`, `database_busy`, "
    "`database_unavailable` or `redis_unavailable` with `Retry-After`. Every write is recorded "
    "in the audit log."
)


def _access(endpoint: Endpoint) -> Access:
    roles: frozenset[str] = getattr(endpoint.view, ROLES_ATTR, frozenset())
    order = [str(role) for role in EVERYONE]
    allowed = sorted((str(role) for role in roles), key=order.index)
    return Access(public=not roles, roles=tuple(allowed), restricted=len(allowed) < len(order))


def _tag(endpoint: Endpoint) -> str:
    return endpoint.view.__module__.rpartition(".")[2].removesuffix("_views")


def create_admin_app() -> web.Application:
    app = web.Application(middlewares=[operator_auth_middleware])
    mount(app, *(module.routes for module in MODULES))
    check_routes_declare_roles(app)
    attach(
        app,
        lambda: build_document(
            app[ENDPOINTS],
            title="wxmember admin API",
            version=API_VERSION,
            server="/admin/api/v1",
            description=DESCRIPTION,
            access=_access,
            tag=_tag,
        ),
    )
    return app
