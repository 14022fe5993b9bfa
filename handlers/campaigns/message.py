"""What a campaign's message can say: its field catalogue, checked and rendered like reminders'.

The mapping from template data keys to fields or fixed text follows the reminders' rules
(handlers/reminders/fields.py); the fields are the campaign's own. Coupon fields need the
campaign to give a coupon, `points` to give points. A message is rendered when it is sent,
after the gifts, so it can name the coupon the member just received and the new balance.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from handlers.coupons.codes import describe, display_code
from handlers.messaging.templates import FieldSpec, apply_mapping, check_mapping, display_name
from wxmember.core.context import Services
from wxmember.core.errors import ValidationFailed
from wxmember.core.models import Member
from wxmember.core.models.coupons import Coupon
from wxmember.core.models.reminders import Channel

KIND = "campaign"
_SECOND = timedelta(seconds=1)
_CAMPAIGN = frozenset({KIND})

CATALOGUE: dict[str, FieldSpec] = {
    spec.name: spec
    for spec in (
        FieldSpec("member_name", "name", 10, _CAMPAIGN, "the member's name (会员 when unsuitable)"),
        FieldSpec("brand_name", "text", 20, _CAMPAIGN, "the brand's name, at most 20 characters"),
        FieldSpec("tier_name", "text", 32, _CAMPAIGN, "the member's tier"),
        FieldSpec("card_no", "code", 16, _CAMPAIGN, "the member card number"),
        FieldSpec("send_date", "date", 11, _CAMPAIGN, "the day the message is sent"),
        FieldSpec("points_balance", "number", 10, _CAMPAIGN, "the points balance after the gift"),
        FieldSpec("points", "number", 6, _CAMPAIGN, "the points the campaign gives"),
        FieldSpec("coupon_title", "text", 20, _CAMPAIGN, "the given coupon's title"),
        FieldSpec("coupon_value", "text", 24, _CAMPAIGN, "what the coupon does, e.g. 满50减10"),
        FieldSpec("coupon_code", "code", 14, _CAMPAIGN, "the coupon code, e.g. ABCD-EFGH-JKMN"),
        FieldSpec("coupon_expiry", "date", 11, _CAMPAIGN, "the last day the coupon works"),
    )
}
# the gift a field needs the campaign to give
_NEEDS = {name: "coupon" for name in CATALOGUE if name.startswith("coupon_")} | {"points": "points"}


def check_message(
    mapping: Mapping[str, Any], channel: Channel, *, gives_coupon: bool, gives_points: bool
) -> dict[str, dict[str, Any]]:
    """The mapping's stored form, or ValidationFailed naming the key."""
    checked = check_mapping(mapping, KIND, channel, catalogue=CATALOGUE)
    given = {"coupon": gives_coupon, "points": gives_points}
    for key, entry in checked.items():
        needs = _NEEDS.get(entry.get("field", ""))
        if needs is not None and not given[needs]:
            raise ValidationFailed(
                f"mapping.{key}: the campaign gives no {needs}.",
                code="field_without_gift",
                details={"key": key},
            )
    return checked


def _date_text(moment: datetime) -> str:
    return f"{moment.year}年{moment.month}月{moment.day}日"


def field_values(
    services: Services, member: Member, points: int | None, coupon: Coupon | None, now: datetime
) -> dict[str, str]:
    """Every catalogue field, rendered for this member now (the tier loaded with the member)."""
    tz = services.config.brand.tz
    tier = member.tier if member.tier_id is not None else None
    values = {
        "member_name": display_name(member.name),
        "brand_name": services.config.brand.name.strip()[:20] or "会员中心",
        "tier_name": tier.name if tier is not None else "会员",
        "card_no": member.card_no or "-",
        "send_date": _date_text(now.astimezone(tz)),
        "points_balance": str(member.points_balance),
        "points": str(points or 0),
    }
    if coupon is not None:
        template = coupon.template
        values["coupon_title"] = template.title
        values["coupon_value"] = describe(
            template.kind, template.value, template.threshold_fen, template.max_discount_fen
        )
        values["coupon_code"] = display_code(coupon.code)
        # valid_until is exclusive: the last day is the day of its last second
        values["coupon_expiry"] = _date_text((coupon.valid_until - _SECOND).astimezone(tz))
    return values


def render(
    services: Services,
    mapping: Mapping[str, Mapping[str, Any]],
    channel: Channel,
    member: Member,
    points: int | None,
    coupon: Coupon | None,
    now: datetime,
) -> dict[str, str]:
    """The template data this member receives, as WeChat will get it."""
    values = field_values(services, member, points, coupon, now)
    return apply_mapping(mapping, values, channel)


def fields_view() -> list[dict[str, Any]]:
    """The field catalogue for the console's message form."""
    return [
        {
            "name": spec.name,
            "renders": spec.renders,
            "max_length": spec.max_length,
            "description": spec.description,
            "needs": _NEEDS.get(spec.name),
        }
        for spec in CATALOGUE.values()
    ]
