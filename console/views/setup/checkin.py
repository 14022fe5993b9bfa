"""Check-in rules (签到规则): those in force, those from tomorrow, editing them, the cycle preview.

The rules are `handlers.checkin.rules.CheckinRules`: a saved version applies from the brand's
tomorrow. The preview shows what each day of the streak cycle earns, and follows the form as
the operator types (htmx), before anything is saved.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from console.pages import Pages, form_data
from console.session import current_staff
from console.views.setup.forms import FORM, FormReader, services_of, setup_render
from handlers.checkin import checkin_growth
from handlers.checkin import rules as checkin_rules
from handlers.checkin.preview import cycle_preview
from handlers.operators.permissions import Area
from wxmember.core.errors import DomainError
from wxmember.core.inputs import validate

pages = Pages()

FIELDS = (
    "enabled",
    "base_points",
    "cycle_days",
    "bonuses",
    "makeup_per_month",
    "makeup_price_points",
    "adds_growth",
)
NUMBERS = ("base_points", "cycle_days", "makeup_per_month", "makeup_price_points")
SPARE_BONUS_ROWS = 2
MAX_BONUS_ROWS = 31


def _values_of(rules: dict[str, Any]) -> dict[str, Any]:
    """A rule set (as `overview` describes it) as the form shows it."""
    values: dict[str, Any] = {name: str(rules[name]) for name in NUMBERS}
    values["enabled"] = bool(rules["enabled"])
    values["adds_growth"] = bool(rules["adds_growth"])
    rows = [{"day": str(b["day"]), "points": str(b["points"])} for b in rules["bonuses"]]
    values["bonuses"] = rows + [{"day": "", "points": ""}] * SPARE_BONUS_ROWS
    return values


def _read(
    form: dict[str, str],
) -> tuple[checkin_rules.CheckinRules | None, dict[str, Any], dict[str, str]]:
    """The rule set typed in the form (None when refused), the values as typed, the refusals."""
    reader = FormReader(form)
    data: dict[str, Any] = {
        "enabled": reader.flag("enabled"),
        "adds_growth": reader.flag("adds_growth"),
    }
    for name in NUMBERS:
        data[name] = reader.required_whole(name, low=0, high=checkin_rules.MAX_POINTS)
    count = reader.whole("bonus_count", low=0, high=MAX_BONUS_ROWS) or 0
    rows, bonuses = [], []
    for i in range(count):
        day, points = reader.raw(f"bonus_{i}_day"), reader.raw(f"bonus_{i}_points")
        rows.append({"day": day, "points": points})
        if day or points:
            bonuses.append(
                {
                    "day": reader.required_whole(f"bonus_{i}_day", low=1, high=31, field="bonuses"),
                    "points": reader.required_whole(
                        f"bonus_{i}_points", low=1, high=checkin_rules.MAX_POINTS, field="bonuses"
                    ),
                }
            )
    data["bonuses"] = bonuses
    if form.get("more_bonuses") and len(rows) < MAX_BONUS_ROWS:
        rows.append({"day": "", "points": ""})
    typed: dict[str, Any] = {name: form.get(name, "") for name in NUMBERS}
    typed |= {"enabled": data["enabled"], "adds_growth": data["adds_growth"], "bonuses": rows}
    errors = reader.errors
    if errors:
        return None, typed, errors
    try:
        return validate(checkin_rules.CheckinRules, data), typed, errors
    except DomainError as exc:
        name = str(exc.details.get("field", "")).split(".")[0]
        errors[name if name in FIELDS else FORM] = exc.code
        return None, typed, errors


def _preview(request: web.Request, rules: checkin_rules.CheckinRules | None) -> dict[str, Any]:
    if rules is None:
        return {"days": None, "growth": 0}
    return {
        "days": cycle_preview(rules),
        "growth": checkin_growth(services_of(request), rules) if rules.enabled else 0,
    }


async def _page(
    request: web.Request,
    values: dict[str, Any],
    errors: dict[str, str],
    rules: checkin_rules.CheckinRules | None,
    status: int = 200,
) -> web.Response:
    overview = await checkin_rules.overview(services_of(request))
    return setup_render(
        request,
        "setup/checkin.html",
        status=status,
        overview=overview,
        values=values,
        errors=errors,
        preview=_preview(request, rules),
        saved=request.query.get("saved") == "updated" and "updated",
    )


@pages.get("/setup/checkin", area=Area.SETUP)
async def checkin_page(request: web.Request) -> web.StreamResponse:
    """The rules in force, those from tomorrow, and the form (starting from the newest)."""
    overview = await checkin_rules.overview(services_of(request))
    newest = overview["next"] or overview["current"]
    values = _values_of(newest)
    rules = validate(
        checkin_rules.CheckinRules,
        {k: v for k, v in newest.items() if k not in ("effective_from", "is_default")},
    )
    return await _page(request, values, {}, rules)


@pages.post("/setup/checkin", area=Area.SETUP)
async def save_rules(request: web.Request) -> web.StreamResponse:
    """Save the rules; they apply from the brand's tomorrow (audited)."""
    form = dict(await form_data(request))
    rules, values, errors = _read(form)
    if rules is None or form.get("more_bonuses"):
        return await _page(request, values, errors, rules, 400 if errors else 200)
    await checkin_rules.replace_rules(services_of(request), current_staff(request), rules)
    raise web.HTTPSeeOther("/console/setup/checkin?saved=updated")


@pages.post("/setup/checkin/preview", area=Area.SETUP)
async def preview(request: web.Request) -> web.StreamResponse:
    """The cycle preview of the rules as typed so far (nothing is saved)."""
    rules, _, errors = _read(dict(await form_data(request)))
    return setup_render(
        request,
        "setup/checkin_preview.html",
        preview=_preview(request, rules),
        errors=errors,
    )
