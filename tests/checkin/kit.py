"""Helpers of the check-in tests: the operators' check-in rules."""

from __future__ import annotations

from datetime import date

from wxmember.core.models.checkins import CheckinRule


async def set_checkin_rules(**changes: object) -> CheckinRule:
    """Rules in force since long ago: the defaults with some fields changed."""
    from handlers.checkin.rules import DEFAULT_RULES

    values = DEFAULT_RULES.model_dump(mode="json") | changes
    return await CheckinRule.create(effective_from=date(2000, 1, 1), **values)
