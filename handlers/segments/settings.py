"""How RFM scores are given: quintiles (the default) or thresholds that operators set.

The settings are one row, saved whole (audited). Each save raises its version: the next run,
even on a day already scored, scores again under the new settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator
from tortoise.transactions import in_transaction

from handlers import audit
from handlers.segments.rules import Cuts
from wxmember.core.context import Services
from wxmember.core.errors import ValidationFailed
from wxmember.core.inputs import Body
from wxmember.core.models import Operator
from wxmember.core.models.segments import RfmSettings

SETTINGS_ID = 1
MAX_DAYS = 36_600
MAX_COUNT = 1_000_000
MAX_FEN = 100_000_000_000

Days = Annotated[int, Field(strict=True, ge=0, le=MAX_DAYS)]
Count = Annotated[int, Field(strict=True, ge=0, le=MAX_COUNT)]
Fen = Annotated[int, Field(strict=True, ge=0, le=MAX_FEN)]


class Thresholds(Body):
    """Four ascending boundaries per measure (handlers/segments/rules.py)."""

    recency_days: Annotated[list[Days], Field(min_length=4, max_length=4)]
    frequency: Annotated[list[Count], Field(min_length=4, max_length=4)]
    monetary_fen: Annotated[list[Fen], Field(min_length=4, max_length=4)]

    @model_validator(mode="after")
    def _ascending(self) -> Thresholds:
        for name in ("recency_days", "frequency", "monetary_fen"):
            values = getattr(self, name)
            if any(a > b for a, b in zip(values, values[1:], strict=False)):
                raise ValueError(f"{name} must not decrease")
        return self


class RfmSettingsBody(Body):
    """What operators save: the mode, and with `thresholds` the boundaries."""

    mode: Literal["quintile", "thresholds"]
    thresholds: Thresholds | None = None


@dataclass(frozen=True)
class CurrentSettings:
    """The settings in force: mode, version, and the operators' cuts (None for quintiles)."""

    mode: str
    version: int
    cuts: Cuts | None
    thresholds: dict[str, list[int]] | None
    updated_at: str | None
    operator_id: int | None

    def public(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "version": self.version,
            "thresholds": self.thresholds,
            "updated_at": self.updated_at,
            "operator_id": self.operator_id,
        }


async def current_settings() -> CurrentSettings:
    """The settings in force (quintiles, version 0, until operators save any)."""
    row = await RfmSettings.get_or_none(id=SETTINGS_ID)
    if row is None:
        return CurrentSettings("quintile", 0, None, None, None, None)
    thresholds = row.thresholds or None
    cuts = Cuts.from_public(thresholds) if row.mode == "thresholds" and thresholds else None
    return CurrentSettings(
        row.mode,
        row.version,
        cuts,
        thresholds,
        row.updated_at.isoformat(),
        row.operator_id,
    )


async def save_settings(
    services: Services, actor: Operator, body: RfmSettingsBody
) -> CurrentSettings:
    """Save the scoring mode (and thresholds); audited. Takes effect at the next run."""
    if body.mode == "thresholds" and body.thresholds is None:
        raise ValidationFailed("Thresholds mode needs the thresholds.", code="thresholds_required")
    before = await current_settings()
    kept = before.thresholds if body.thresholds is None else body.thresholds.model_dump()
    now = services.clock.now()
    async with in_transaction() as conn:
        row = await RfmSettings.select_for_update().using_db(conn).get_or_none(id=SETTINGS_ID)
        if row is None:
            row = RfmSettings(id=SETTINGS_ID, version=0)
        row.mode = body.mode
        row.thresholds = kept or {}
        row.version = (row.version or 0) + 1
        row.operator_id = actor.id
        row.updated_at = now
        await row.save(using_db=conn)
        await audit.record(
            actor,
            "rfm_settings.replace",
            "rfm_settings",
            SETTINGS_ID,
            before=before.public(),
            after={"mode": row.mode, "version": row.version, "thresholds": row.thresholds},
            using_db=conn,
        )
    return await current_settings()
