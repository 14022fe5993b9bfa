"""`GET /api/v1/tiers`: the ladder with benefits side by side, and the member's progress."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from handlers import tiers
from miniapp_api.auth import current_member
from miniapp_api.responses import TierOverview
from wxmember.core import keys
from wxmember.core.endpoints import Routes
from wxmember.core.models.tiers import Tier
from wxmember.core.web import json_response

routes = Routes()


def _tier(tier: Tier, current: Tier | None) -> dict[str, Any]:
    return {
        "id": tier.id,
        "name": tier.name,
        "level": tier.level,
        "color": tier.color,
        "growth_threshold": tier.growth_threshold,
        "retention_threshold": tier.retention_threshold,
        "multiplier_percent": tier.multiplier_percent,
        "upgrade_gift_points": tier.upgrade_gift_points,
        "benefits": tier.benefits or [],
        "current": current is not None and tier.id == current.id,
    }


def _brief(tier: Tier | None) -> dict[str, Any] | None:
    if tier is None:
        return None
    return {"id": tier.id, "name": tier.name, "level": tier.level, "color": tier.color}


@routes.get("/tiers", response=TierOverview)
async def tier_view(request: web.Request) -> web.Response:
    """All tiers and their benefits side by side, the member's tier and progress."""
    services = request.config_dict[keys.SERVICES]
    view = await tiers.tier_overview(services, current_member(request))
    next_tier = _brief(view.next_tier)
    if next_tier is not None and view.next_tier is not None:
        next_tier |= {
            "growth_threshold": view.next_tier.growth_threshold,
            "growth_needed": view.growth_to_next,
        }
    retention = None
    if view.current is not None:
        retention = {
            "threshold": view.current.retention_threshold,
            "growth_needed": view.growth_to_retain,
        }
    return json_response(
        {
            "tiers": [_tier(tier, view.current) for tier in view.tiers],
            "current_tier": _brief(view.current),
            "next_tier": next_tier,
            "retention": retention,
            "growth_this_period": view.period_growth,
            "growth_total": view.growth_total,
            "period": {
                "kind": view.period.kind,
                "start": view.period.start.isoformat(),
                "end": view.period.end.isoformat(),
            },
            "next_evaluation": view.next_evaluation.isoformat(),
        }
    )
