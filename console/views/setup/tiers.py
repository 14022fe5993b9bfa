"""The tier ladder (会员等级): the ladder as a table, creating, editing and deleting a tier.

The ladder's rules are `handlers.tiers.ladder`'s; a refusal shows next to the field it concerns,
and the form asks the same rules on every change (`/check`) without saving.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from console.pages import Pages, form_data
from console.session import current_staff
from console.views.setup.forms import FORM, FormReader, field_of, setup_render, yuan
from handlers.coupons import templates as coupon_templates
from handlers.operators.permissions import Area
from handlers.tiers import ladder
from wxmember.core.errors import DomainError
from wxmember.core.models import Tier

pages = Pages()

FIELDS = (
    "name",
    "level",
    "color",
    "growth_threshold",
    "retention_threshold",
    "multiplier_percent",
    "upgrade_gift_points",
    "benefits",
)
# Refusals of the ladder that name no field in their code, by the field they concern.
ALIASES = {
    "duplicate_level": "level",
    "no_entry_tier": "level",
    "duplicate_name": "name",
    "thresholds_not_increasing": "growth_threshold",
}
BENEFIT_KINDS = ("points_multiplier", "birthday_gift", "monthly_coupons", "free_shipping", "text")
PACK_SLOTS = 3
MAX_BENEFIT_ROWS = 20


@dataclass
class TierForm:
    """What the form shows: the values as typed, the benefit rows, the refusals by field.

    `more` is set when the operator asked for another benefit row: the form is shown again with
    it, nothing saved.
    """

    values: dict[str, str]
    benefits: list[dict[str, Any]]
    errors: dict[str, str] = field(default_factory=dict)
    more: bool = False


def _benefit_row(benefit: dict[str, Any] | None = None) -> dict[str, Any]:
    benefit = benefit or {}
    pack = [
        {"template": str(item.get("template_id", "")), "count": str(item.get("count", ""))}
        for item in benefit.get("coupons", [])
    ]
    pack += [{"template": "", "count": ""}] * max(0, PACK_SLOTS - len(pack))
    return {
        "kind": benefit.get("kind", ""),
        "title": benefit.get("title", ""),
        "description": benefit.get("description", ""),
        "points": str(benefit.get("points", "")),
        "template": str(benefit.get("coupon_template_id", "")),
        "min_order": yuan(benefit["min_order_fen"]) if "min_order_fen" in benefit else "",
        "pack": pack,
        "error": None,
    }


def _form_of(tier: Tier | None) -> TierForm:
    if tier is None:
        values = {name: "" for name in FIELDS} | {
            "color": "#6B7280",
            "retention_threshold": "0",
            "multiplier_percent": "100",
            "upgrade_gift_points": "0",
        }
        return TierForm(values, [_benefit_row()])
    values = {name: str(getattr(tier, name)) for name in FIELDS if name != "benefits"}
    return TierForm(values, [*map(_benefit_row, tier.benefits), _benefit_row()])


def _read_benefits(
    reader: FormReader, *, partial: bool
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The benefits as the ladder takes them, and the rows as typed (to show them again);
    `partial` leaves out rows without a title yet."""
    count = reader.whole("benefit_count", low=0, high=MAX_BENEFIT_ROWS) or 0
    benefits: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    for i in range(count):
        key = f"benefit_{i}_"
        pack = [
            {
                "template": reader.raw(f"{key}pack_{j}_template"),
                "count": reader.raw(f"{key}pack_{j}_count"),
            }
            for j in range(PACK_SLOTS)
        ]
        row: dict[str, Any] = {
            "kind": reader.raw(f"{key}kind"),
            "title": reader.raw(f"{key}title"),
            "description": reader.raw(f"{key}description"),
            "points": reader.raw(f"{key}points"),
            "template": reader.raw(f"{key}template"),
            "min_order": reader.raw(f"{key}min_order"),
            "pack": pack,
            "error": None,
        }
        rows.append(row)
        if row["kind"] not in BENEFIT_KINDS:
            continue  # an empty row: no benefit
        if partial and not row["title"]:
            continue  # still being filled in
        benefit: dict[str, Any] = {
            "kind": row["kind"],
            "title": reader.text(f"{key}title", max_length=32, required=False),
            "description": reader.text(f"{key}description", max_length=200),
        }
        if row["kind"] == "birthday_gift":
            points = reader.whole(f"{key}points", low=1, high=1_000_000, field="benefits")
            template = reader.whole(f"{key}template", low=1, field="benefits")
            benefit |= {"points": points, "coupon_template_id": template}
            benefit = {k: v for k, v in benefit.items() if v is not None}
        elif row["kind"] == "free_shipping":
            benefit["min_order_fen"] = reader.fen(f"{key}min_order", field="benefits") or 0
        elif row["kind"] == "monthly_coupons":
            coupons = []
            for j in range(PACK_SLOTS):
                template = reader.whole(f"{key}pack_{j}_template", low=1, field="benefits")
                number = reader.whole(f"{key}pack_{j}_count", low=1, high=10, field="benefits")
                if template is not None:
                    coupons.append({"template_id": template, "count": number or 1})
            benefit["coupons"] = coupons
        row["index"] = len(benefits)
        benefits.append(benefit)
    return benefits, rows


def _read(
    form: dict[str, str], *, partial: bool = False
) -> tuple[dict[str, Any], TierForm, FormReader]:
    """The tier's values; `partial` (a check while typing) lets numbers not typed yet be."""
    reader = FormReader(form)
    values: dict[str, Any] = {
        "name": reader.exact_text("name", max_length=64),
        "color": reader.exact_text("color", max_length=16).upper(),
    }
    for name in (
        "level",
        "growth_threshold",
        "retention_threshold",
        "multiplier_percent",
        "upgrade_gift_points",
    ):
        number = reader.whole(name)
        if number is not None:
            values[name] = number
        elif not partial:
            reader.fail(name)
    benefits, rows = _read_benefits(reader, partial=partial)
    values["benefits"] = benefits
    typed = {name: form.get(name, "") for name in FIELDS if name != "benefits"}
    more = bool(form.get("more_benefits"))
    if more and len(rows) < MAX_BENEFIT_ROWS:
        rows.append(_benefit_row())
    return values, TierForm(typed, rows, reader.errors, more), reader


def _refused(tier_form: TierForm, exc: DomainError) -> None:
    """Put a refusal of the ladder next to its field (a benefit's next to its row)."""
    where = field_of(exc, FIELDS, ALIASES)
    if where == "benefits":
        parts = str(exc.details.get("field", "")).split(".")
        index = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
        rows = [
            row for row in tier_form.benefits if index is not None and row.get("index") == index
        ]
        for row in rows:
            row["error"] = exc.code
        if rows:
            return
    tier_form.errors.setdefault(where, exc.code)


async def _refusals(
    tier_form: TierForm, exc: DomainError, values: dict[str, Any], tier_id: int | None
) -> None:
    """Show a refusal; after a benefit's, also what the ladder says of the rest of the tier
    (its rules look at benefits first, and one refusal at a time)."""
    _refused(tier_form, exc)
    if exc.code != "invalid_benefits":
        return
    try:
        await ladder.check_change(values | {"benefits": []}, tier_id)
    except DomainError as more:
        _refused(tier_form, more)


async def _context() -> dict[str, Any]:
    templates = await coupon_templates.list_templates(None, 200)
    return {"coupon_templates": templates, "benefit_kinds": BENEFIT_KINDS, "fields": FIELDS}


async def _show_form(
    request: web.Request, tier: Tier | None, tier_form: TierForm, status: int = 200
) -> web.Response:
    return setup_render(
        request,
        "setup/tier_form.html",
        status=status,
        tier=tier,
        form=tier_form,
        **await _context(),
    )


@pages.get("/setup/tiers", area=Area.SETUP)
async def ladder_page(request: web.Request) -> web.StreamResponse:
    """The ladder, lowest level first, with how many members hold each tier."""
    tiers = await ladder.list_tiers()
    counts = await ladder.member_counts()
    return setup_render(
        request,
        "setup/tiers.html",
        tiers=tiers,
        counts=counts,
        saved=request.query.get("saved"),
    )


@pages.get("/setup/tiers/new", area=Area.SETUP)
async def new_tier(request: web.Request) -> web.StreamResponse:
    """The form for a new tier."""
    return await _show_form(request, None, _form_of(None))


@pages.post("/setup/tiers/new", area=Area.SETUP)
async def create_tier(request: web.Request) -> web.StreamResponse:
    """Add the tier; the whole ladder must still keep every rule."""
    values, tier_form, reader = _read(dict(await form_data(request)))
    if tier_form.more or reader.errors:
        return await _show_form(request, None, tier_form, 200 if not reader.errors else 400)
    try:
        await ladder.create_tier(current_staff(request), values)
    except DomainError as exc:
        await _refusals(tier_form, exc, values, None)
        return await _show_form(request, None, tier_form, exc.status)
    raise web.HTTPSeeOther("/console/setup/tiers?saved=created")


@pages.get("/setup/tiers/{tier_id}", area=Area.SETUP)
async def edit_tier(request: web.Request, tier_id: int) -> web.StreamResponse:
    """One tier's form, and deleting it when nobody holds it."""
    tier = await ladder.get_tier(tier_id)
    return await _show_form(request, tier, _form_of(tier))


@pages.post("/setup/tiers/{tier_id}", area=Area.SETUP)
async def update_tier(request: web.Request, tier_id: int) -> web.StreamResponse:
    """Save the tier's fields; members' cards are redrawn if its face changed."""
    tier = await ladder.get_tier(tier_id)
    values, tier_form, reader = _read(dict(await form_data(request)))
    if str(values["color"]).lower() == tier.color.lower():
        values["color"] = tier.color  # a colour input writes it in lower case: not a change
    if tier_form.more or reader.errors:
        return await _show_form(request, tier, tier_form, 200 if not reader.errors else 400)
    try:
        await ladder.update_tier(current_staff(request), tier_id, values)
    except DomainError as exc:
        await _refusals(tier_form, exc, values, tier_id)
        return await _show_form(request, tier, tier_form, exc.status)
    raise web.HTTPSeeOther("/console/setup/tiers?saved=updated")


@pages.post("/setup/tiers/{tier_id}/delete", area=Area.SETUP)
async def delete_tier(request: web.Request, tier_id: int) -> web.StreamResponse:
    """Remove a tier nobody holds (the ladder must still have its entry tier)."""
    tier = await ladder.get_tier(tier_id)
    try:
        await ladder.delete_tier(current_staff(request), tier_id)
    except DomainError as exc:
        tier_form = _form_of(tier)
        tier_form.errors["delete"] = exc.code
        return await _show_form(request, tier, tier_form, exc.status)
    raise web.HTTPSeeOther("/console/setup/tiers?saved=deleted")


@pages.post("/setup/tiers/new/check", area=Area.SETUP)
async def check_new_tier(request: web.Request) -> web.StreamResponse:
    """The ladder's verdict on the new tier as typed so far (nothing is saved)."""
    return await _check(request, None)


@pages.post("/setup/tiers/{tier_id}/check", area=Area.SETUP)
async def check_tier(request: web.Request, tier_id: int) -> web.StreamResponse:
    """The ladder's verdict on the tier as edited so far (nothing is saved)."""
    return await _check(request, tier_id)


async def _check(request: web.Request, tier_id: int | None) -> web.StreamResponse:
    values, tier_form, reader = _read(dict(await form_data(request)), partial=True)
    # Until the numbers a tier needs are typed, only what is malformed is worth saying.
    complete = tier_id is not None or {"name", "level", "growth_threshold"} <= set(values)
    if complete and values.get("name") and not reader.errors:
        try:
            await ladder.check_change(values, tier_id)
        except DomainError as exc:
            await _refusals(tier_form, exc, values, tier_id)
    return setup_render(
        request,
        "setup/tier_checked.html",
        form=tier_form,
        fields=(*FIELDS, FORM),
    )
