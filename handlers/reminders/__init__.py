"""Reminders: rules, who a rule reminds on a day, at-most-once delivery, reports."""

from __future__ import annotations

from handlers.reminders.runs import (
    RunSummary,
    claim_rule_day,
    deliver_due,
    outcome_counts,
    pacer_for,
    preview,
    preview_page,
    run_due_reminders,
    run_rule,
)

__all__ = [
    "RunSummary",
    "claim_rule_day",
    "deliver_due",
    "outcome_counts",
    "pacer_for",
    "preview",
    "preview_page",
    "run_due_reminders",
    "run_rule",
]
