"""Reminder rules (CRUD, preview) and the reminder deliveries operators watch."""

from __future__ import annotations

from typing import Annotated

from aiohttp import web
from pydantic import Field

from admin.auth import STAFF, allow, current_operator
from admin.responses import (
    DeliveryStats,
    ReminderDeliveryPage,
    ReminderFields,
    ReminderPreview,
    ReminderRule,
    ReminderRulePage,
)
from handlers import reminders
from handlers.reminders import reports as reminder_reports
from handlers.reminders import rules as reminder_rules
from handlers.reminders.fields import catalogue_view
from wxmember.core import keys
from wxmember.core.endpoints import Routes
from wxmember.core.inputs import MAX_ID, IsoDate, Limit, Page, Query, QueryInt
from wxmember.core.models.reminders import DeliveryState
from wxmember.core.web import json_response, page_body

routes = Routes()

RULE_ERRORS = (
    "invalid_days_before",
    "page_required",
    "gift_not_allowed",
    "invalid_gift",
    "invalid_gift_coupon_template",
    "invalid_mapping_key",
    "invalid_text",
    "unknown_field",
    "gift_field_without_gift",
    "field_type_mismatch",
    "value_too_long",
)


class PreviewQuery(Page):
    date: IsoDate | None = None


class DayQuery(Query):
    date: IsoDate | None = None


class DeliveriesQuery(Page):
    limit: Limit = 50
    rule_id: Annotated[int | None, QueryInt, Field(ge=1, le=MAX_ID)] = None
    state: DeliveryState | None = None
    date: IsoDate | None = None


@routes.get("/reminder-rules", query=Page, response=ReminderRulePage)
@allow(*STAFF)
async def list_rules(request: web.Request, query: Page) -> web.Response:
    """Reminder rules in the order they were made."""
    rules = await reminder_rules.list_rules(query.cursor, query.limit)
    items = [reminder_rules.rule_view(rule) for rule in rules]
    return json_response(page_body(items, [rule.id for rule in rules], query.limit))


@routes.post(
    "/reminder-rules",
    body=reminder_rules.RuleCreate,
    status=201,
    response=ReminderRule,
    errors=RULE_ERRORS,
)
@allow(*STAFF)
async def create_rule(request: web.Request, body: reminder_rules.RuleCreate) -> web.Response:
    """Create a rule (audited); the scheduler follows it from its next minute."""
    rule = await reminder_rules.create_rule(current_operator(request), body)
    return json_response(reminder_rules.rule_view(rule), status=201)


@routes.get("/reminder-rules/{rule_id}", response=ReminderRule, errors=("reminder_rule_not_found",))
@allow(*STAFF)
async def get_rule(request: web.Request, rule_id: int) -> web.Response:
    """One rule."""
    rule = await reminder_rules.get_rule(rule_id)
    return json_response(reminder_rules.rule_view(rule))


@routes.patch(
    "/reminder-rules/{rule_id}",
    body=reminder_rules.RulePatch,
    response=ReminderRule,
    errors=("reminder_rule_not_found", *RULE_ERRORS),
)
@allow(*STAFF)
async def update_rule(
    request: web.Request, rule_id: int, body: reminder_rules.RulePatch
) -> web.Response:
    """Change the fields sent; the whole rule is checked again (audited)."""
    rule = await reminder_rules.update_rule(current_operator(request), rule_id, body)
    return json_response(reminder_rules.rule_view(rule))


@routes.delete("/reminder-rules/{rule_id}", status=204, errors=("reminder_rule_not_found",))
@allow(*STAFF)
async def delete_rule(request: web.Request, rule_id: int) -> web.Response:
    """Delete a rule: it stops at once, its delivery history stays (audited)."""
    services = request.config_dict[keys.SERVICES]
    await reminder_rules.delete_rule(services, current_operator(request), rule_id)
    return web.Response(status=204)


@routes.get(
    "/reminder-rules/{rule_id}/preview",
    query=PreviewQuery,
    response=ReminderPreview,
    errors=("reminder_rule_not_found",),
)
@allow(*STAFF)
async def preview_rule(request: web.Request, rule_id: int, query: PreviewQuery) -> web.Response:
    """Whom the rule would remind on a day (today by default) and with what; sends nothing."""
    services = request.config_dict[keys.SERVICES]
    return json_response(
        await reminders.preview_page(services, rule_id, query.date, query.cursor, query.limit)
    )


@routes.get("/reminder-fields", response=ReminderFields)
@allow(*STAFF)
async def fields(request: web.Request) -> web.Response:
    """The member fields a rule's template mapping may name."""
    return json_response({"items": catalogue_view()})


@routes.get("/reminder-deliveries", query=DeliveriesQuery, response=ReminderDeliveryPage)
@allow(*STAFF)
async def list_deliveries(request: web.Request, query: DeliveriesQuery) -> web.Response:
    """Reminder deliveries, newest first, by rule, state and send day."""
    rows = await reminder_reports.list_deliveries(
        rule_id=query.rule_id,
        state=query.state,
        day=query.date,
        before_id=query.cursor,
        limit=query.limit,
    )
    items = [reminder_reports.delivery_view(row) for row in rows]
    return json_response(page_body(items, [row.id for row in rows], query.limit))


@routes.get("/reminder-deliveries/stats", query=DayQuery, response=DeliveryStats)
@allow(*STAFF)
async def delivery_stats(request: web.Request, query: DayQuery) -> web.Response:
    """For a send day (today by default): per rule, how many deliveries are in each state."""
    services = request.config_dict[keys.SERVICES]
    return json_response(await reminder_reports.stats_for_day(services, query.date))
