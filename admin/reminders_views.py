"""Reminder rules (CRUD, preview) and the reminder deliveries operators watch."""

from __future__ import annotations

from datetime import date

from aiohttp import web

from admin.auth import STAFF, allow, current_operator
from handlers import reminders
from handlers.reminders import reports as reminder_reports
from handlers.reminders import rules as reminder_rules
from handlers.reminders.fields import catalogue_view
from wxmember.core import keys
from wxmember.core.inputs import page_query, path_id, query_date, query_enum, query_int, read_json
from wxmember.core.localtime import local_today
from wxmember.core.models.reminders import DeliveryState
from wxmember.core.web import encode_cursor, json_response, page_body


def _today(request: web.Request) -> date:
    return local_today(request.config_dict[keys.SERVICES])


@allow(*STAFF)
async def list_rules(request: web.Request) -> web.Response:
    after_id, limit = page_query(request)
    rules = await reminder_rules.list_rules(after_id, limit)
    items = [reminder_rules.rule_view(rule) for rule in rules]
    return json_response(page_body(items, [rule.id for rule in rules], limit))


@allow(*STAFF)
async def create_rule(request: web.Request) -> web.Response:
    body = await read_json(request, reminder_rules.RuleCreate)
    rule = await reminder_rules.create_rule(current_operator(request), body)
    return json_response(reminder_rules.rule_view(rule), status=201)


@allow(*STAFF)
async def get_rule(request: web.Request) -> web.Response:
    rule = await reminder_rules.get_rule(path_id(request, "rule_id"))
    return json_response(reminder_rules.rule_view(rule))


@allow(*STAFF)
async def update_rule(request: web.Request) -> web.Response:
    body = await read_json(request, reminder_rules.RulePatch)
    rule = await reminder_rules.update_rule(
        current_operator(request), path_id(request, "rule_id"), body
    )
    return json_response(reminder_rules.rule_view(rule))


@allow(*STAFF)
async def delete_rule(request: web.Request) -> web.Response:
    services = request.config_dict[keys.SERVICES]
    await reminder_rules.delete_rule(
        services, current_operator(request), path_id(request, "rule_id")
    )
    return web.Response(status=204)


@allow(*STAFF)
async def preview_rule(request: web.Request) -> web.Response:
    services = request.config_dict[keys.SERVICES]
    day = query_date(request, "date") or _today(request)
    assert day is not None
    after, limit = page_query(request)
    items, next_key = await reminders.preview(
        services, path_id(request, "rule_id"), day, after, limit
    )
    return json_response(
        {
            "date": day.isoformat(),
            "items": items,
            "next_cursor": encode_cursor(next_key) if next_key is not None else None,
        }
    )


@allow(*STAFF)
async def fields(request: web.Request) -> web.Response:
    return json_response({"items": catalogue_view()})


@allow(*STAFF)
async def list_deliveries(request: web.Request) -> web.Response:
    before_id, limit = page_query(request, default_limit=50)
    raw_rule = request.query.get("rule_id", "")
    rows = await reminder_reports.list_deliveries(
        rule_id=query_int(request, "rule_id", 0, 1, 2_000_000_000) if raw_rule else None,
        state=query_enum(request, "state", DeliveryState),
        day=query_date(request, "date"),
        before_id=before_id,
        limit=limit,
    )
    items = [reminder_reports.delivery_view(row) for row in rows]
    return json_response(page_body(items, [row.id for row in rows], limit))


@allow(*STAFF)
async def delivery_stats(request: web.Request) -> web.Response:
    day = query_date(request, "date") or _today(request)
    assert day is not None
    return json_response(
        {"date": day.isoformat(), "rules": await reminder_reports.delivery_stats(day)}
    )


def setup(app: web.Application) -> None:
    app.router.add_get("/reminder-rules", list_rules)
    app.router.add_post("/reminder-rules", create_rule)
    app.router.add_get("/reminder-rules/{rule_id}", get_rule)
    app.router.add_patch("/reminder-rules/{rule_id}", update_rule)
    app.router.add_delete("/reminder-rules/{rule_id}", delete_rule)
    app.router.add_get("/reminder-rules/{rule_id}/preview", preview_rule)
    app.router.add_get("/reminder-fields", fields)
    app.router.add_get("/reminder-deliveries", list_deliveries)
    app.router.add_get("/reminder-deliveries/stats", delivery_stats)
