"""会员分层 (RFM) set-up: how scores are given, the latest runs, and scoring today on request.

Operators choose quintiles or their own thresholds (`handlers.segments.settings`): four
ascending numbers per measure, recency in days, frequency in purchases, monetary value typed in
yuan. Thresholds typed while quintiles are chosen are kept for later. Saving takes effect at the
next run; "score now" runs today's under the settings saved (audited, like saving).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from console.pages import Pages, form_data
from console.session import current_staff
from console.views.setup.forms import FORM, FormReader, services_of, setup_render, yuan
from handlers import segments
from handlers.operators.permissions import Area
from handlers.segments.settings import MAX_COUNT, MAX_DAYS
from wxmember.core.errors import DomainError
from wxmember.core.inputs import validate

pages = Pages()

MODES = ("quintile", "thresholds")
MEASURES = (("r", "recency_days"), ("f", "frequency"), ("m", "monetary_fen"))
RUNS_SHOWN = 5


def _values_of(current: segments.CurrentSettings) -> dict[str, Any]:
    """The saved settings as the form shows them (money in yuan)."""
    values: dict[str, Any] = {"mode": current.mode}
    thresholds = current.thresholds or {}
    for short, key in MEASURES:
        for index, bound in enumerate(thresholds.get(key, [])):
            values[f"{short}_{index + 1}"] = yuan(bound) if short == "m" else str(bound)
    return values


def _read(form: dict[str, str]) -> tuple[segments.RfmSettingsBody | None, dict[str, str]]:
    """The settings typed (None when refused) and the refusals by field."""
    reader = FormReader(form)
    mode = reader.choice("mode", MODES)
    typed = {
        f"{short}_{i}": reader.raw(f"{short}_{i}") for short, _ in MEASURES for i in (1, 2, 3, 4)
    }
    thresholds: dict[str, list[int]] | None = None
    if any(typed.values()):
        thresholds = {}
        for short, key in MEASURES:
            bounds = []
            for i in (1, 2, 3, 4):
                name = f"{short}_{i}"
                if short == "m":
                    bound = reader.fen(name, field="thresholds")
                else:
                    high = MAX_DAYS if short == "r" else MAX_COUNT
                    bound = reader.whole(name, low=0, high=high, field="thresholds")
                if bound is None:
                    reader.fail("thresholds", "invalid_thresholds")
                bounds.append(bound or 0)
            thresholds[key] = bounds
    if reader.errors:
        return None, reader.errors
    try:
        body = validate(segments.RfmSettingsBody, {"mode": mode, "thresholds": thresholds})
    except DomainError as exc:
        field = str(exc.details.get("field", "")).split(".")[0]
        return None, {field if field in ("mode", "thresholds") else FORM: exc.code}
    if body.mode == "thresholds" and body.thresholds is None:
        return None, {"thresholds": "thresholds_required"}
    return body, {}


def _run_view(run: Any) -> dict[str, Any]:
    cuts = run.cuts or {}
    return {
        "day": run.day.isoformat(),
        "mode": run.mode,
        "status": str(run.status),
        "scored": run.scored,
        "cuts": [(short, cuts.get(key, [])) for short, key in MEASURES],
    }


async def _page(
    request: web.Request, values: dict[str, Any], errors: dict[str, str], status: int = 200
) -> web.Response:
    current = await segments.current_settings()
    runs = await segments.runs(None, RUNS_SHOWN)
    return setup_render(
        request,
        "setup/rfm.html",
        status=status,
        current=current,
        values=values,
        errors=errors,
        modes=MODES,
        measures=[short for short, _ in MEASURES],
        runs=[_run_view(run) for run in runs[:RUNS_SHOWN]],
        config=services_of(request).config.rfm,
        saved=request.query.get("saved")
        if request.query.get("saved") in ("updated", "scored")
        else None,
    )


@pages.get("/setup/rfm", area=Area.SETUP)
async def rfm_page(request: web.Request) -> web.StreamResponse:
    """The settings in force, the form, the latest runs and the button to score today."""
    return await _page(request, _values_of(await segments.current_settings()), {})


@pages.post("/setup/rfm", area=Area.SETUP)
async def save_settings(request: web.Request) -> web.StreamResponse:
    """Save how scores are given (audited); the next run applies them."""
    form = dict(await form_data(request))
    body, errors = _read(form)
    if body is None:
        values = {key: form.get(key, "") for key in form if key != "csrf_token"}
        return await _page(request, values, errors, 400)
    await segments.save_settings(services_of(request), current_staff(request), body)
    raise web.HTTPSeeOther("/console/setup/rfm?saved=updated")


@pages.post("/setup/rfm/run", area=Area.SETUP)
async def score_now(request: web.Request) -> web.StreamResponse:
    """Score today under the saved settings (audited); a day already scored stays as it is."""
    await segments.run_for_staff(services_of(request), current_staff(request))
    raise web.HTTPSeeOther("/console/setup/rfm?saved=scored")
