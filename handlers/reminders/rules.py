"""Reminder rules as operators manage them: create, list, read, change, delete (all audited).

A rule is checked whole on every write: days before within its kind's range (birthday 0..30,
expiry reminders 1..60), a page for Official Account templates (the mini-program page the
message opens), a gift only on birthday rules, and the mapping against WeChat's value rules
(handlers/reminders/fields.py). Changes take effect at the scheduler's next minute: it reads the
rules from the database on every run. Deleting keeps the row (deleted_at) for the history of
its deliveries.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints

from handlers import audit
from handlers.messaging.templates import Page, TemplateId, TemplateMapping, mapping_input
from handlers.reminders.fields import check_mapping
from wxmember.core.context import Services
from wxmember.core.errors import ReminderRuleNotFound, ValidationFailed
from wxmember.core.inputs import Body, CleanText, MaybeId
from wxmember.core.kernel import continue_after, transaction
from wxmember.core.models import Operator
from wxmember.core.models.coupons import CouponTemplate
from wxmember.core.models.reminders import Channel, ReminderKind, ReminderRule

DAYS_BEFORE = {
    ReminderKind.BIRTHDAY: (0, 30),
    ReminderKind.POINTS_EXPIRING: (1, 60),
    ReminderKind.COUPON_EXPIRING: (1, 60),
}
MAX_GIFT_POINTS = 100_000

Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40), CleanText
]
SendTime = Annotated[str, StringConstraints(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]
DaysBefore = Annotated[int, Field(strict=True, ge=0, le=60)]
MaybeDaysBefore = Annotated[int | None, Field(strict=True, ge=0, le=60)]


class Gift(BaseModel):
    """A birthday gift: a coupon template or points (exactly one)."""

    model_config = ConfigDict(extra="forbid")
    coupon_template_id: MaybeId = None
    points: Annotated[int | None, Field(strict=True, ge=1, le=MAX_GIFT_POINTS)] = None


class RuleCreate(Body):
    name: Name
    kind: ReminderKind
    send_time: SendTime
    days_before: DaysBefore
    channel: Channel
    template_id: TemplateId
    mapping: TemplateMapping
    page: Page | None = None
    gift: Gift | None = None
    enabled: StrictBool = True


class RulePatch(Body):
    """Any field of a rule; `page` and `gift` may be set to null."""

    name: Name | None = None
    send_time: SendTime | None = None
    days_before: MaybeDaysBefore = None
    channel: Channel | None = None
    template_id: TemplateId | None = None
    mapping: TemplateMapping | None = None
    page: Page | None = None
    gift: Gift | None = None
    enabled: StrictBool | None = None


_NULLABLE = {"page", "gift"}


def rule_view(rule: ReminderRule) -> dict[str, Any]:
    """A rule as operators see it (and as the audit log records it)."""
    gift: dict[str, int] | None = None
    if rule.gift_coupon_template_id:
        gift = {"coupon_template_id": rule.gift_coupon_template_id}
    elif rule.gift_points:
        gift = {"points": rule.gift_points}
    return {
        "id": rule.id,
        "name": rule.name,
        "kind": ReminderKind(rule.kind).value,
        "send_time": rule.send_time,
        "days_before": rule.days_before,
        "channel": Channel(rule.channel).value,
        "template_id": rule.template_id,
        "mapping": rule.mapping,
        "page": rule.page,
        "gift": gift,
        "enabled": rule.enabled,
        "version": rule.version,
        "created_at": rule.created_at.isoformat() if rule.created_at else None,
        "updated_at": rule.updated_at.isoformat() if rule.updated_at else None,
    }


async def _checked(values: dict[str, Any]) -> dict[str, Any]:
    """The rule's columns after checking the rule as a whole."""
    kind = ReminderKind(values["kind"])
    channel = Channel(values["channel"])
    low, high = DAYS_BEFORE[kind]
    if not low <= values["days_before"] <= high:
        raise ValidationFailed(
            f"days_before: a {kind} reminder is sent {low}..{high} days before.",
            code="invalid_days_before",
        )
    if channel is Channel.OFFICIAL_TEMPLATE and not values.get("page"):
        raise ValidationFailed(
            "page: an Official Account template message opens a mini-program page; name it.",
            code="page_required",
        )
    gift = values.get("gift")
    coupon_id = points = None
    if gift is not None:
        if kind is not ReminderKind.BIRTHDAY:
            raise ValidationFailed(
                "gift: only birthday reminders carry a gift.", code="gift_not_allowed"
            )
        coupon_id, points = gift.get("coupon_template_id"), gift.get("points")
        if (coupon_id is None) == (points is None):
            raise ValidationFailed(
                "gift: give either coupon_template_id or points.", code="invalid_gift"
            )
        if coupon_id is not None and not await CouponTemplate.exists(id=coupon_id):
            raise ValidationFailed(
                "gift.coupon_template_id: no such coupon template.",
                code="invalid_gift_coupon_template",
            )
    mapping = check_mapping(values["mapping"], kind, channel, has_gift=gift is not None)
    return {
        "name": values["name"],
        "kind": kind,
        "send_time": values["send_time"],
        "days_before": values["days_before"],
        "channel": channel,
        "template_id": values["template_id"],
        "mapping": mapping,
        "page": values.get("page"),
        "gift_coupon_template_id": coupon_id,
        "gift_points": points,
        "enabled": values["enabled"],
    }


async def create_rule(actor: Operator, data: RuleCreate) -> ReminderRule:
    """Create a rule (audited); it takes part in the scheduler's next minute."""
    values = data.model_dump(exclude={"mapping"}) | {"mapping": mapping_input(data.mapping)}
    columns = await _checked(values)
    async with transaction() as conn:
        rule = await ReminderRule.create(**columns, using_db=conn)
        await audit.record(
            actor,
            "reminder_rule.create",
            "reminder_rule",
            rule.id,
            after=rule_view(rule),
            using_db=conn,
        )
    return rule


async def get_rule(rule_id: int) -> ReminderRule:
    """One rule that is not deleted; NotFound `reminder_rule_not_found`."""
    rule = await ReminderRule.get_or_none(id=rule_id, deleted_at__isnull=True)
    if rule is None:
        raise ReminderRuleNotFound()
    return rule


async def list_rules(after_id: int | None, limit: int) -> list[ReminderRule]:
    """Rules in id order, `limit + 1` of them (the caller pages)."""
    query = ReminderRule.filter(deleted_at__isnull=True).order_by("id")
    query = continue_after(query, after_id, newest_first=False)
    return await query.limit(limit + 1)


def _as_input(rule: ReminderRule) -> dict[str, Any]:
    view = rule_view(rule)
    return {key: view[key] for key in RuleCreate.model_fields}


async def update_rule(actor: Operator, rule_id: int, patch: RulePatch) -> ReminderRule:
    """Change a rule (audited); the whole rule is checked again."""
    changes = {
        name: getattr(patch, name)
        for name in patch.model_fields_set
        if getattr(patch, name) is not None or name in _NULLABLE
    }
    if "mapping" in changes:
        changes["mapping"] = mapping_input(patch.mapping or {})
    if "gift" in changes and patch.gift is not None:
        changes["gift"] = patch.gift.model_dump()
    async with transaction() as conn:
        rule = (
            await ReminderRule.select_for_update()
            .using_db(conn)
            .get_or_none(id=rule_id, deleted_at__isnull=True)
        )
        if rule is None:
            raise ReminderRuleNotFound()
        before = rule_view(rule)
        columns = await _checked(_as_input(rule) | changes)
        rule.update_from_dict(columns)
        rule.version += 1
        await rule.save(using_db=conn)
        await audit.record(
            actor,
            "reminder_rule.update",
            "reminder_rule",
            rule.id,
            before=before,
            after=rule_view(rule),
            using_db=conn,
        )
    return rule


async def delete_rule(services: Services, actor: Operator, rule_id: int) -> None:
    """Delete a rule (audited): it stops at once; its delivery history stays."""
    async with transaction() as conn:
        rule = (
            await ReminderRule.select_for_update()
            .using_db(conn)
            .get_or_none(id=rule_id, deleted_at__isnull=True)
        )
        if rule is None:
            raise ReminderRuleNotFound()
        before = rule_view(rule)
        rule.deleted_at = services.clock.now()
        rule.enabled = False
        rule.version += 1
        await rule.save(using_db=conn)
        await audit.record(
            actor, "reminder_rule.delete", "reminder_rule", rule.id, before=before, using_db=conn
        )
