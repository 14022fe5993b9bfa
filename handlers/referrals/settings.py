"""What a referral gives and when: one row of settings that operators save whole (audited).

Until operators save any, referrals are off: a share code is accepted at card opening but
records nothing. Coupons named here must be givable when saved (`coupons.templates.grantable`);
one that runs out later is recorded as a failed reward, never a failed card opening.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Annotated, Any

from pydantic import Field
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from handlers import audit
from handlers.coupons.templates import grantable
from wxmember.core.context import Services
from wxmember.core.errors import ValidationFailed
from wxmember.core.inputs import Body
from wxmember.core.models import Operator
from wxmember.core.models.coupons import CouponTemplate
from wxmember.core.models.referrals import ReferralSettings, RewardMoment

SETTINGS_ID = 1
MAX_POINTS = 100_000
MAX_MONTHLY = 1_000

RewardPoints = Annotated[int, Field(strict=True, ge=0, le=MAX_POINTS)]
MaybeTemplateId = Annotated[int | None, Field(strict=True, ge=1, le=2**31 - 1)]


class ReferralSettingsBody(Body):
    """What operators save: on or off, when rewards are paid, what each side gets, the limit."""

    enabled: bool
    reward_on: RewardMoment
    referrer_points: RewardPoints = 0
    referrer_coupon_template_id: MaybeTemplateId = None
    invitee_points: RewardPoints = 0
    invitee_coupon_template_id: MaybeTemplateId = None
    monthly_limit: Annotated[int, Field(strict=True, ge=1, le=MAX_MONTHLY)] = 10


@dataclass(frozen=True)
class CurrentSettings:
    """The settings in force (version 0: never saved, referrals off)."""

    enabled: bool
    reward_on: str
    referrer_points: int
    referrer_coupon_template_id: int | None
    invitee_points: int
    invitee_coupon_template_id: int | None
    monthly_limit: int
    version: int
    updated_at: str | None
    operator_id: int | None

    def public(self) -> dict[str, Any]:
        return asdict(self)

    def rewards(self, side: str) -> tuple[int, int | None]:
        """The points and coupon template one side gets."""
        if side == "referrer":
            return self.referrer_points, self.referrer_coupon_template_id
        return self.invitee_points, self.invitee_coupon_template_id


DEFAULTS = CurrentSettings(
    False, RewardMoment.CARD_OPENING.value, 0, None, 0, None, 10, 0, None, None
)


def _from_row(row: ReferralSettings) -> CurrentSettings:
    return CurrentSettings(
        enabled=row.enabled,
        reward_on=RewardMoment(row.reward_on).value,
        referrer_points=row.referrer_points,
        referrer_coupon_template_id=row.referrer_coupon_template_id,
        invitee_points=row.invitee_points,
        invitee_coupon_template_id=row.invitee_coupon_template_id,
        monthly_limit=row.monthly_limit,
        version=row.version,
        updated_at=row.updated_at.isoformat(),
        operator_id=row.operator_id,
    )


async def current_settings(using_db: BaseDBAsyncClient | None = None) -> CurrentSettings:
    """The referral settings in force."""
    row = await ReferralSettings.filter(id=SETTINGS_ID).using_db(using_db).first()
    return DEFAULTS if row is None else _from_row(row)


async def _check_template(services: Services, field: str, template_id: int | None) -> None:
    if template_id is None:
        return
    now = services.clock.now()
    if not await CouponTemplate.filter(grantable(now), id=template_id).exists():
        raise ValidationFailed(
            f"{field}: no coupon template that can be given now (stopped, sold out or expired?).",
            code="invalid_coupon_template",
            details={"field": field},
        )


async def save_settings(
    services: Services, actor: Operator, body: ReferralSettingsBody
) -> CurrentSettings:
    """Save the referral settings whole (audited); they apply to referrals recorded from now."""
    await _check_template(services, "referrer_coupon_template_id", body.referrer_coupon_template_id)
    await _check_template(services, "invitee_coupon_template_id", body.invitee_coupon_template_id)
    now = services.clock.now()
    async with in_transaction() as conn:
        row = await ReferralSettings.select_for_update().using_db(conn).get_or_none(id=SETTINGS_ID)
        before = None if row is None else _from_row(row).public()
        if row is None:
            row = ReferralSettings(id=SETTINGS_ID, version=0)
        for name, value in body.model_dump().items():
            setattr(row, name, value)
        row.version = (row.version or 0) + 1
        row.operator_id = actor.id
        row.updated_at = now
        await row.save(using_db=conn)
        saved = _from_row(row)
        await audit.record(
            actor,
            "referral_settings.replace",
            "referral_settings",
            SETTINGS_ID,
            before=before,
            after=saved.public(),
            using_db=conn,
        )
    return saved
