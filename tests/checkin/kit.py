"""Helpers of the check-in tests: the operators' check-in rules."""

from __future__ import annotations

from datetime import date

from wxmember.core.member_cache import changed_everyone
from wxmember.core.models.checkins import CheckinRule


async def set_checkin_rules(**changes: object) -> CheckinRule:
    """Rules in force since long ago: the defaults with some fields changed (recorded as a
    change, as the console's save is, so cached rules are read again)."""
    from handlers.checkin.rules import DEFAULT_RULES

    values = DEFAULT_RULES.model_dump(mode="json") | changes
    rule = await CheckinRule.create(effective_from=date(2000, 1, 1), **values)
    changed_everyone()
    return rule
