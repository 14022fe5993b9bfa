"""Fixtures of the RFM tests: the clock on the run's day, and a history to write into."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient

from tests.segments.kit import NOW, History
from tests.support.localtime import freeze
from wxmember.core.clock import FrozenClock
from wxmember.core.context import Services


@pytest.fixture
def clock(services: Services) -> FrozenClock:
    return freeze(services, NOW)


@pytest.fixture
def history(client: TestClient, clock: FrozenClock) -> History:
    return History()
