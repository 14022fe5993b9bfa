"""提醒: reminder rules (list, switch on and off, create and change), and a rule's preview.

Every write goes through handlers/reminders/rules.py, as the admin API's do (audited there);
the preview is the admin API's own (`handlers.reminders.preview`), a page at a time, with the
number of reminders the rule would send that day counted in one query.
"""

from __future__ import annotations

from typing import Annotated, Any

from aiohttp import web
from pydantic import Field

from console.i18n import catalogue
from console.mapping_editor import TEXT_SOURCE
from console.pages import Pages, form_data, is_htmx, render
from console.reminder_form import (
    RuleForm,
    blank,
    check_keys,
    field_label,
    from_form,
    from_rule,
    place_error,
    problem,
    rule_input,
)
from console.session import current_staff
from handlers import reminders
from handlers.coupons.templates import get_template, list_templates
from handlers.operators.permissions import Area
from handlers.reminders.candidates import count_candidates, target_day
from handlers.reminders.rules import (
    RuleCreate,
    RulePatch,
    create_rule,
    get_rule,
    list_rules,
    rule_view,
    update_rule,
)
from wxmember.core import keys
from wxmember.core.errors import DomainError, TemplateNotFound, ValidationFailed
from wxmember.core.inputs import Cursor, IsoDate, Page, Query, encode_cursor, validate
from wxmember.core.localtime import local_today
from wxmember.core.models.coupons import CouponTemplate
from wxmember.core.models.reminders import Channel, ReminderKind, ReminderRule

pages = Pages()

RULE = r"{rule_id:\d+}"
PREVIEW_PAGE = 20


def query_of(request: web.Request, model: type[Query]) -> Any:
    """The query string read into a model; an empty parameter counts as absent."""
    values = {key: request.query[key] for key in request.query if request.query[key] != ""}
    return validate(model, values)


def _coupon(view: dict[str, Any]) -> int | None:
    """The coupon template a rule gives, if it gives one."""
    gift = view["gift"] or {}
    return gift.get("coupon_template_id")


async def _coupon_titles(views: list[dict[str, Any]]) -> dict[int, str]:
    titles: dict[int, str] = {}
    for template_id in {_coupon(view) for view in views} - {None}:
        assert template_id is not None
        try:
            titles[template_id] = (await get_template(template_id)).title
        except TemplateNotFound:
            titles[template_id] = ""
    return titles


def gift_text(view: dict[str, Any], titles: dict[int, str]) -> str:
    """A rule's gift in a few words."""
    texts = catalogue()
    gift = view["gift"]
    if not gift:
        return texts["reminders.none"]
    if "points" in gift:
        return texts["reminders.gift_points"].format(points=gift["points"])
    title = titles.get(gift["coupon_template_id"])
    if title:
        return texts["reminders.gift_coupon"].format(title=title)
    return texts["reminders.gift_coupon_missing"].format(id=gift["coupon_template_id"])


class RulesQuery(Page):
    saved: Annotated[int | None, Field(ge=1)] = None


@pages.get("/reminders", area=Area.REMINDERS)
async def rules(request: web.Request) -> web.StreamResponse:
    """The reminder rules, a page at a time, each with its switch, its form and its preview."""
    query = query_of(request, RulesQuery)
    found = await list_rules(query.cursor, query.limit)
    shown = found[: query.limit]
    views = [rule_view(rule) for rule in shown]
    titles = await _coupon_titles(views)
    next_cursor = encode_cursor(shown[-1].id) if len(found) > query.limit else None
    return render(
        request,
        "reminders/list.html",
        rules=[(view, gift_text(view, titles)) for view in views],
        next_cursor=next_cursor,
        first_page=query.cursor is not None,
        saved=query.saved is not None,
    )


@pages.post(f"/reminders/{RULE}/enabled", area=Area.REMINDERS)
async def switch(request: web.Request, rule_id: int) -> web.StreamResponse:
    """Switch a rule on or off (audited); htmx swaps the rule's row."""
    form = await form_data(request)
    error = None
    try:
        patch = validate(RulePatch, {"enabled": form.get("enabled") == "1"})
        rule = await update_rule(current_staff(request), rule_id, patch)
    except DomainError as exc:
        if not is_htmx(request):
            raise
        rule, error = await get_rule(rule_id), problem(exc.code)
    if not is_htmx(request):
        raise web.HTTPSeeOther("/console/reminders")
    view = rule_view(rule)
    titles = await _coupon_titles([view])
    return render(
        request, "reminders/row.html", rule=view, gift=gift_text(view, titles), error=error
    )


async def _form_page(
    request: web.Request, form: RuleForm, rule: ReminderRule | None, *, status: int = 200
) -> web.Response:
    coupons: list[CouponTemplate] = await list_templates(None, 100)
    return render(
        request,
        "reminders/form.html",
        status=status,
        form=form,
        rule=rule,
        coupons=coupons,
        kinds=list(ReminderKind),
        channels=list(Channel),
        text_source=TEXT_SOURCE,
        field_label=field_label,
    )


@pages.get("/reminders/new", area=Area.REMINDERS)
async def new_rule(request: web.Request) -> web.StreamResponse:
    """An empty rule form."""
    return await _form_page(request, blank(), None)


@pages.get(f"/reminders/{RULE}/edit", area=Area.REMINDERS)
async def edit_rule(request: web.Request, rule_id: int) -> web.StreamResponse:
    """A rule's form, filled in."""
    rule = await get_rule(rule_id)
    form = from_rule(rule)
    check_keys(form, submitted=False)
    return await _form_page(request, form, rule)


@pages.post("/reminders/mapping", area=Area.REMINDERS)
async def mapping(request: web.Request) -> web.StreamResponse:
    """The gift and mapping part of the form again, each key checked (htmx, on every change);
    with `?key=`, that key's part only."""
    form = from_form(await form_data(request))
    check_keys(form, submitted=False)
    key = request.query.get("key")
    if key is not None:
        row = next((row for row in form.rows if row.key == key), None)
        if row is None:  # the key list changed meanwhile: its own refresh redraws the rows
            return web.Response(status=204)
        return render(
            request,
            "mapping/key.html",
            mapping_area="reminders",
            form=form,
            row=row,
            text_source=TEXT_SOURCE,
            field_label=field_label,
        )
    return render(
        request,
        "reminders/dynamic.html",
        form=form,
        coupons=await list_templates(None, 100),
        text_source=TEXT_SOURCE,
        field_label=field_label,
    )


@pages.post("/reminders", area=Area.REMINDERS)
async def create(request: web.Request) -> web.StreamResponse:
    """Create a rule (audited), or the form again with each refusal beside its field or key."""
    form = from_form(await form_data(request))
    check_keys(form, submitted=True)
    if not form.has_errors:
        try:
            rule = await create_rule(current_staff(request), validate(RuleCreate, rule_input(form)))
        except ValidationFailed as exc:
            place_error(form, exc)
        else:
            raise web.HTTPSeeOther(f"/console/reminders?saved={rule.id}")
    form.errors.setdefault("form", catalogue()["reminders.form.refused"])
    return await _form_page(request, form, None, status=400)


@pages.post(f"/reminders/{RULE}", area=Area.REMINDERS)
async def change(request: web.Request, rule_id: int) -> web.StreamResponse:
    """Change a rule (audited); its kind stays what it was."""
    rule = await get_rule(rule_id)
    form = from_form(await form_data(request))
    form.values["kind"] = rule_view(rule)["kind"]
    check_keys(form, submitted=True)
    if not form.has_errors:
        patch = {k: v for k, v in rule_input(form).items() if k != "kind"}
        try:
            await update_rule(current_staff(request), rule_id, validate(RulePatch, patch))
        except ValidationFailed as exc:
            place_error(form, exc)
        else:
            raise web.HTTPSeeOther(f"/console/reminders?saved={rule_id}")
    form.errors.setdefault("form", catalogue()["reminders.form.refused"])
    return await _form_page(request, form, rule, status=400)


class PreviewQuery(Query):
    date: IsoDate | None = None
    cursor: Cursor | None = None


@pages.get(f"/reminders/{RULE}/preview", area=Area.REMINDERS)
async def preview(request: web.Request, rule_id: int) -> web.StreamResponse:
    """Whom the rule reminds on a day and the exact messages, a page at a time; sends nothing."""
    services = request.config_dict[keys.SERVICES]
    rule = await get_rule(rule_id)
    error = None
    try:
        query = query_of(request, PreviewQuery)
    except ValidationFailed as exc:
        query, error = PreviewQuery(), problem(exc.code)
    day = query.date or local_today(services)
    items, next_key = await reminders.preview(services, rule.id, day, query.cursor, PREVIEW_PAGE)
    reach = await count_candidates(services, rule, day)
    return render(
        request,
        "reminders/preview.html",
        rule=rule_view(rule),
        day=day.isoformat(),
        target=target_day(rule, day).isoformat(),
        reach=reach,
        items=items,
        next_cursor=encode_cursor(next_key) if next_key is not None else None,
        first_page=query.cursor is not None,
        error=error,
    )
