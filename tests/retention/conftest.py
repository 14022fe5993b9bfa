"""Fixtures of the retention tests: short lifetimes, small batches, a frozen Shanghai clock."""

from __future__ import annotations

from typing import Any

import pytest

from tests.reminders.kit import NOW
from tests.support.localtime import freeze
from wxmember.core.clock import FrozenClock
from wxmember.core.context import Services

# Short lifetimes so that a few days of rows show every edge; batches of 5 so that a dozen
# rows take several.
LIFETIMES = {
    "reminder_deliveries_days": 3,
    "campaign_deliveries_days": 30,
    "audit_days": 184,
    "import_problems_days": 10,
    "wallet_card_events_days": 20,
    "batch_size": 5,
}


@pytest.fixture
def settings(settings: dict[str, Any]) -> dict[str, Any]:
    settings["retention"] = dict(LIFETIMES)
    settings["reminders"] = {"sends_per_second": 1000}
    return settings


@pytest.fixture
def clock(services: Services) -> FrozenClock:
    return freeze(services, NOW)
