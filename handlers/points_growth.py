"""The optional link from points to tiers: the tier multiplier and growth, when tiers exist.

The tiers capability (`handlers.tiers`) is imported lazily, so points, check-in and the POS
keep working in a deployment without it: multiplier 100 % and no growth.
"""

from __future__ import annotations

import importlib
import inspect
from types import ModuleType

from tortoise.backends.base.client import BaseDBAsyncClient

from wxmember.context import Services
from wxmember.models import Member

TIERS_MODULE = "handlers.tiers"


def tiers_module() -> ModuleType | None:
    """`handlers.tiers` if this deployment has it."""
    try:
        return importlib.import_module(TIERS_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name != TIERS_MODULE:
            raise
        return None


async def multiplier_percent(member: Member, using_db: BaseDBAsyncClient | None = None) -> int:
    """The member's tier points multiplier in percent (100 without tiers)."""
    tiers = tiers_module()
    if tiers is None:
        return 100
    function = tiers.multiplier_percent
    if "using_db" in inspect.signature(function).parameters:
        value = function(member, using_db=using_db)
    else:
        value = function(member)
    if inspect.isawaitable(value):
        value = await value
    return int(value)


async def add_growth(
    services: Services,
    member_id: int,
    amount: int,
    *,
    reason: str,
    idempotency_key: str,
    reference: str | None = None,
    using_db: BaseDBAsyncClient | None = None,
) -> bool:
    """Record growth through the tiers capability; False when there is none or nothing to add."""
    tiers = tiers_module()
    if tiers is None or amount == 0:
        return False
    await tiers.add_growth(
        services,
        member_id,
        amount,
        reason=reason,
        idempotency_key=idempotency_key,
        reference=reference,
        using_db=using_db,
    )
    return True
