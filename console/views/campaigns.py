"""营销活动: campaigns (list by state; draft, change and delete; preview and launch now or at a
time; pause, resume and cancel), each campaign's progress, its results against the holdout
group with the per-member CSV, and its members a page at a time.

Every write goes through handlers/campaigns (definitions, lifecycle), as the admin API's do,
so the draft is checked and each change audited the same way. Campaigns belong to the same
area as the saved segments they target: owners and operators.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from urllib.parse import quote, urlencode

from aiohttp import web

from console.campaign_form import (
    CampaignForm,
    blank,
    campaign_input,
    check_keys,
    field_label,
    from_campaign,
    from_form,
    place_error,
    problem,
    read_numbers,
)
from console.i18n import catalogue
from console.mapping_editor import TEXT_SOURCE
from console.pages import Pages, form_data, render
from console.session import current_staff, protect
from console.views.reminders import query_of
from console.views.setup.forms import FormReader, local_input, local_text, services_of, yuan
from handlers.campaigns import definitions, lifecycle, results
from handlers.campaigns.deliveries import delivery_view, list_deliveries
from handlers.coupons.codes import describe
from handlers.coupons.templates import grantable_templates
from handlers.operators.permissions import Area
from handlers.segments import saved
from wxmember.core.errors import DomainError, ValidationFailed
from wxmember.core.inputs import Cursor, Page, Query, encode_cursor, validate
from wxmember.core.models.campaigns import Campaign, CampaignState
from wxmember.core.models.coupons import CouponTemplate
from wxmember.core.models.reminders import Channel, DeliveryState

pages = Pages()

CAMPAIGN = r"{campaign_id:\d+}"
PAGE_SIZE = 20
MEMBERS_PAGE = 50
NOTICES = ("created", "updated", "deleted", "launched", "paused", "resumed", "cancelled")
# what each state lets the operator do next
PAUSABLE = (CampaignState.SCHEDULED, CampaignState.RUNNING)
CANCELLABLE = (CampaignState.SCHEDULED, CampaignState.RUNNING, CampaignState.PAUSED)
BADGES = {
    CampaignState.DRAFT: "",
    CampaignState.SCHEDULED: "warn",
    CampaignState.RUNNING: "ok",
    CampaignState.PAUSED: "warn",
    CampaignState.FINISHED: "",
    CampaignState.CANCELLED: "bad",
}


class CampaignsQuery(Page):
    state: CampaignState | None = None


class MembersQuery(Query):
    state: DeliveryState | None = None
    group: Literal["treated", "holdout"] | None = None
    cursor: Cursor | None = None


def _reason(code: str | None) -> str:
    """A delivery's reason in words; an unknown code as it is."""
    if not code:
        return ""
    texts = catalogue()
    base = code.partition(":")[0]  # gift_refused:template_sold_out, invalid_value:thing3
    for key in (f"campaigns.reasons.{code}", f"campaigns.reasons.{base}"):
        if key in texts:
            return texts[key]
    return texts.get(f"reminders.reasons.{code}") or texts.get(f"reminders.reasons.{base}", code)


def _state_badge(state: str) -> dict[str, str]:
    return {
        "value": state,
        "text": catalogue()[f"campaigns.states.{state}"],
        "class": BADGES[CampaignState(state)],
    }


async def _coupon_titles(ids: set[int | None]) -> dict[int, str]:
    wanted = {id_ for id_ in ids if id_ is not None}
    if not wanted:
        return {}
    found = await CouponTemplate.filter(id__in=wanted).values_list("id", "title")
    return {int(id_): str(title) for id_, title in found}


def _actions(view: dict[str, Any], titles: dict[int, str]) -> list[str]:
    """What a campaign does, in a few words each."""
    texts = catalogue()
    done = []
    coupon = view["coupon_template_id"]
    if coupon is not None:
        title = titles.get(coupon) or f"#{coupon}"
        done.append(texts["campaigns.action_coupon"].format(title=title))
    if view["points"] is not None:
        done.append(texts["campaigns.action_points"].format(points=view["points"]))
    if view["channel"] is not None:
        channel = texts[f"reminders.channels.{view['channel']}"]
        done.append(texts["campaigns.action_message"].format(channel=channel))
    return done


@pages.get("/campaigns", area=Area.MEMBERS)
async def campaign_list(request: web.Request) -> web.StreamResponse:
    """The campaigns, newest first, optionally in one state, a page at a time."""
    tz = services_of(request).config.brand.tz
    error = None
    try:
        query = query_of(request, CampaignsQuery)
    except ValidationFailed as exc:
        query, error = CampaignsQuery(), problem(exc.code)
    found = await definitions.list_campaigns(query.cursor, PAGE_SIZE, query.state)
    shown = found[:PAGE_SIZE]
    views = [definitions.campaign_view(campaign) for campaign in shown]
    titles = await _coupon_titles({view["coupon_template_id"] for view in views})
    rows = [
        {
            "id": view["id"],
            "name": view["name"],
            "segment": view["segment_name"],
            "actions": _actions(view, titles),
            "state": _state_badge(view["state"]),
            "recipients": campaign.recipients,
            "held_out": campaign.held_out,
            "started": campaign.started_at is not None,
            "start_at": local_text(campaign.started_at or campaign.start_at, tz),
        }
        for view, campaign in zip(views, shown, strict=True)
    ]
    state = query.state.value if query.state else ""
    kept = f"state={state}&" if state else ""
    more = len(found) > PAGE_SIZE
    done = request.query.get("done")
    return render(
        request,
        "campaigns/list.html",
        campaigns=rows,
        states=[item.value for item in CampaignState],
        state=state,
        error=error,
        next_url=f"/console/campaigns?{kept}cursor={encode_cursor(shown[-1].id)}" if more else None,
        first_url=f"/console/campaigns?{kept}".rstrip("?&") if query.cursor else None,
        notice=done if done in NOTICES else None,
        deleted_name=request.query.get("name", "")[:40],
    )


async def _form_page(
    request: web.Request, form: CampaignForm, campaign: Campaign | None, *, status: int = 200
) -> web.Response:
    services = services_of(request)
    segments = await saved.list_segments(None, 200)
    coupons = await grantable_templates(services)
    chosen = form.values["coupon_template_id"]
    if chosen.isdigit() and all(str(coupon.id) != chosen for coupon in coupons):
        kept = await CouponTemplate.get_or_none(id=int(chosen))
        if kept is not None:
            coupons.append(kept)
    return render(
        request,
        "campaigns/form.html",
        status=status,
        form=form,
        campaign=campaign,
        segments=segments,
        coupons=[
            (
                coupon.id,
                f"{coupon.title}（"
                + describe(coupon.kind, coupon.value, coupon.threshold_fen, coupon.max_discount_fen)
                + "）",
            )
            for coupon in coupons
        ],
        channels=list(Channel),
        text_source=TEXT_SOURCE,
        field_label=field_label,
    )


@pages.get("/campaigns/new", area=Area.MEMBERS)
async def new_campaign(request: web.Request) -> web.StreamResponse:
    """An empty draft; `?segment=` chooses its saved segment."""
    form = blank()
    segment = request.query.get("segment", "")
    if segment.isascii() and segment.isdigit():
        form.values["segment_id"] = segment
    return await _form_page(request, form, None)


@pages.post("/campaigns/mapping", area=Area.MEMBERS)
async def mapping(request: web.Request) -> web.StreamResponse:
    """The message part of the form again, each key checked (htmx, on every change); with
    `?key=`, that key's part only."""
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
            mapping_area="campaigns",
            form=form,
            row=row,
            text_source=TEXT_SOURCE,
            field_label=field_label,
        )
    return render(
        request,
        "campaigns/message.html",
        form=form,
        channels=list(Channel),
        text_source=TEXT_SOURCE,
        field_label=field_label,
    )


async def _save(request: web.Request, campaign: Campaign | None) -> web.StreamResponse:
    form = from_form(await form_data(request))
    read_numbers(form)
    check_keys(form, submitted=True)
    if not form.has_errors:
        values = campaign_input(form)
        services, staff = services_of(request), current_staff(request)
        try:
            if campaign is None:
                body = validate(definitions.CampaignCreate, values)
                made = await definitions.create_campaign(services, staff, body)
                campaign_id, done = made.id, "created"
            else:
                patch = validate(definitions.CampaignPatch, values)
                await definitions.update_campaign(services, staff, campaign.id, patch)
                campaign_id, done = campaign.id, "updated"
        except DomainError as exc:
            if exc.code in ("campaign_not_found", "campaign_wrong_state"):
                raise
            place_error(form, exc)
        else:
            raise web.HTTPSeeOther(f"/console/campaigns/{campaign_id}?done={done}")
    form.errors.setdefault("form", catalogue()["campaigns.form.refused"])
    return await _form_page(request, form, campaign, status=400)


@pages.post("/campaigns", area=Area.MEMBERS)
async def create(request: web.Request) -> web.StreamResponse:
    """Draft a campaign (audited), or the form again with each refusal beside its field."""
    return await _save(request, None)


@pages.get(f"/campaigns/{CAMPAIGN}/edit", area=Area.MEMBERS)
async def edit(request: web.Request, campaign_id: int) -> web.StreamResponse:
    """A draft's form, filled in; a launched campaign is fixed."""
    campaign = await definitions.get_campaign(campaign_id)
    definitions.require_state(campaign, CampaignState.DRAFT)
    form = from_campaign(campaign)
    check_keys(form, submitted=False)
    return await _form_page(request, form, campaign)


@pages.post(f"/campaigns/{CAMPAIGN}", area=Area.MEMBERS)
async def change(request: web.Request, campaign_id: int) -> web.StreamResponse:
    """Change a draft (audited); the whole draft is checked again."""
    campaign = await definitions.get_campaign(campaign_id)
    definitions.require_state(campaign, CampaignState.DRAFT)
    return await _save(request, campaign)


@pages.post(f"/campaigns/{CAMPAIGN}/delete", area=Area.MEMBERS)
async def delete(request: web.Request, campaign_id: int) -> web.StreamResponse:
    """Delete a draft (audited)."""
    campaign = await definitions.delete_campaign(current_staff(request), campaign_id)
    raise web.HTTPSeeOther(f"/console/campaigns?done=deleted&name={quote(campaign.name)}")


# ----------------------------------------------------------------- one campaign


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _points(value: float | None) -> str:
    """A difference of rates in percentage points, signed."""
    return "—" if value is None else f"{value * 100:+.1f}"


def _money(fen: float | None, *, signed: bool = False) -> str:
    if fen is None:
        return "—"
    return f"{fen / 100:+.2f}" if signed else f"{fen / 100:.2f}"


def _interval(bounds: list[float] | None, show: Any) -> str:
    if bounds is None:
        return "—"
    return catalogue()["campaigns.results.interval"].format(
        low=show(bounds[0]), high=show(bounds[1])
    )


def _windows(figures: dict[str, Any]) -> list[dict[str, Any]]:
    """Each window's figures, formatted for the results table."""
    shown = []
    for window in figures["windows"]:
        groups = {}
        for name in ("treated", "holdout"):
            group = window[name]
            groups[name] = {
                "members": group["members"],
                "purchasers": group["purchasers"],
                "rate": _percent(group["rate"]),
                "purchases": group["purchases"],
                "amount": yuan(group["amount_fen"]),
                "per_member": _money(group["amount_per_member_fen"]),
            }
        difference = window["difference"]
        shown.append(
            {
                "days": window["days"],
                "complete": window["complete"],
                "groups": groups,
                "rate": _points(difference["rate"]),
                "rate_ci": _interval(difference["rate_ci95"], _points),
                "per_member": _money(difference["amount_per_member_fen"], signed=True),
                "per_member_ci": _interval(
                    difference["amount_ci95"], lambda fen: _money(fen, signed=True)
                ),
            }
        )
    return shown


def _reasons(counts: dict[str, int]) -> list[tuple[str, int]]:
    return [(_reason(code), n) for code, n in sorted(counts.items(), key=lambda kv: -kv[1])]


async def _members(
    campaign: Campaign, query: MembersQuery
) -> tuple[list[dict[str, Any]], str | None]:
    holdout = None if query.group is None else query.group == "holdout"
    found = await list_deliveries(
        campaign.id,
        state=query.state,
        holdout=holdout,
        after_id=query.cursor,
        limit=MEMBERS_PAGE,
    )
    shown = found[:MEMBERS_PAGE]
    rows = []
    for row in shown:
        view = delivery_view(row)
        rows.append(
            {
                "member_id": view["member_id"],
                "card_no": view["card_no"] or "—",
                "group": "holdout" if view["holdout"] else "treated",
                "state": view["state"],
                "reason": _reason(view["reason"]),
                "coupon": view["coupon_id"] is not None,
                "points": view["points_entry_id"] is not None,
            }
        )
    more = len(found) > MEMBERS_PAGE
    return rows, encode_cursor(shown[-1].id) if more else None


async def _campaign_page(
    request: web.Request,
    campaign: Campaign,
    *,
    status: int = 200,
    error: str | None = None,
    launch_errors: dict[str, str] | None = None,
    launch_values: dict[str, str] | None = None,
) -> web.Response:
    services = services_of(request)
    tz = services.config.brand.tz
    view = definitions.campaign_view(campaign)
    titles = await _coupon_titles({campaign.coupon_template_id})
    draft = campaign.state == CampaignState.DRAFT
    preview = None
    preview_error = None
    if draft:
        try:
            preview = await lifecycle.preview(services, campaign)
        except DomainError as exc:
            preview_error = problem(exc.code)
    figures = await results.campaign_results(campaign, services.clock.now())
    members_error = None
    try:
        query = query_of(request, MembersQuery)
    except ValidationFailed as exc:
        query, members_error = MembersQuery(), problem(exc.code)
    members, next_cursor = await _members(campaign, query)
    filters = {
        "state": query.state.value if query.state else "",
        "group": query.group or "",
    }
    kept = urlencode({name: value for name, value in filters.items() if value})
    done = request.query.get("done")
    mapping = view["mapping"] or {}
    return render(
        request,
        "campaigns/campaign.html",
        status=status,
        campaign=view,
        state=_state_badge(view["state"]),
        actions=_actions(view, titles),
        coupon_title=titles.get(campaign.coupon_template_id or 0, ""),
        mapping=[
            (
                key,
                entry.get("text") if "text" in entry else None,
                field_label(entry.get("field", "")),
            )
            for key, entry in mapping.items()
        ],
        times={
            name: local_text(getattr(campaign, name), tz)
            for name in ("start_at", "launched_at", "started_at", "finished_at", "created_at")
        },
        draft=draft,
        pausable=campaign.state in PAUSABLE,
        resumable=campaign.state == CampaignState.PAUSED,
        cancellable=campaign.state in CANCELLABLE,
        preview=preview,
        preview_error=preview_error,
        error=error,
        launch_errors=launch_errors or {},
        launch_values=launch_values
        or {"when": "now", "start_at": local_input(services.clock.now(), tz)},
        figures=figures,
        windows=_windows(figures),
        skip_reasons=_reasons(figures["deliveries"]["skip_reasons"]),
        fail_reasons=_reasons(figures["deliveries"]["fail_reasons"]),
        members=members,
        members_error=members_error,
        delivery_states=[item.value for item in DeliveryState],
        filters=filters,
        kept=kept,
        next_cursor=next_cursor,
        first_page=query.cursor is not None,
        notice=done if done in NOTICES else None,
    )


@pages.get(f"/campaigns/{CAMPAIGN}", area=Area.MEMBERS)
async def campaign_page(request: web.Request, campaign_id: int) -> web.StreamResponse:
    """A campaign: what it does; a draft's preview and launch; progress, results, members."""
    campaign = await definitions.get_campaign(campaign_id)
    return await _campaign_page(request, campaign)


@pages.post(f"/campaigns/{CAMPAIGN}/launch", area=Area.MEMBERS)
async def launch(request: web.Request, campaign_id: int) -> web.StreamResponse:
    """Launch a draft now or at a local date and time (audited)."""
    services = services_of(request)
    form = await form_data(request)
    reader = FormReader(form, services.config.brand.tz)
    when = reader.choice("when", ("now", "at"))
    start_at: datetime | None = None
    if when == "at":
        start_at = reader.moment("start_at")
        if start_at is None:
            reader.fail("start_at")
    values = {"when": when or "now", "start_at": form.get("start_at", "")}
    campaign = await definitions.get_campaign(campaign_id)
    if reader.errors:
        errors = {name: problem(f"invalid_{name}") for name in reader.errors}
        return await _campaign_page(
            request, campaign, status=400, launch_errors=errors, launch_values=values
        )
    try:
        await lifecycle.launch(services, current_staff(request), campaign_id, start_at)
    except DomainError as exc:
        campaign = await definitions.get_campaign(campaign_id)
        return await _campaign_page(
            request, campaign, status=exc.status, error=problem(exc.code), launch_values=values
        )
    raise web.HTTPSeeOther(f"/console/campaigns/{campaign_id}?done=launched")


async def _move(request: web.Request, campaign_id: int, action: str) -> web.StreamResponse:
    services = services_of(request)
    move = {"pause": lifecycle.pause, "resume": lifecycle.resume, "cancel": lifecycle.cancel}
    try:
        await move[action](services, current_staff(request), campaign_id)
    except DomainError as exc:
        if exc.code == "campaign_not_found":
            raise
        campaign = await definitions.get_campaign(campaign_id)
        return await _campaign_page(request, campaign, status=exc.status, error=problem(exc.code))
    done = {"pause": "paused", "resume": "resumed", "cancel": "cancelled"}[action]
    raise web.HTTPSeeOther(f"/console/campaigns/{campaign_id}?done={done}")


@pages.post(f"/campaigns/{CAMPAIGN}/pause", area=Area.MEMBERS)
async def pause(request: web.Request, campaign_id: int) -> web.StreamResponse:
    """Pause a scheduled or running campaign (audited)."""
    return await _move(request, campaign_id, "pause")


@pages.post(f"/campaigns/{CAMPAIGN}/resume", area=Area.MEMBERS)
async def resume(request: web.Request, campaign_id: int) -> web.StreamResponse:
    """Resume a paused campaign where it stopped (audited)."""
    return await _move(request, campaign_id, "resume")


@pages.post(f"/campaigns/{CAMPAIGN}/cancel", area=Area.MEMBERS)
async def cancel(request: web.Request, campaign_id: int) -> web.StreamResponse:
    """Cancel a campaign for good (audited): members not reached yet are skipped."""
    return await _move(request, campaign_id, "cancel")


@pages.get(f"/campaigns/{CAMPAIGN}/results.csv", area=Area.MEMBERS)
async def results_csv(request: web.Request, campaign_id: int) -> web.StreamResponse:
    """One row per recorded member (card number, group, outcome, coupon, purchases and amount
    within 30 days of the start; no name, no phone), streamed in batches, UTF-8 with a
    byte-order mark so spreadsheets read it."""
    campaign = await definitions.get_campaign(campaign_id)
    name = results.csv_filename(campaign)
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="{name}"',
        }
    )
    protect(response, request)  # the middleware's headers would come too late
    await response.prepare(request)
    async for chunk in results.export_csv(campaign):
        await response.write(chunk)
    await response.write_eof()
    return response
