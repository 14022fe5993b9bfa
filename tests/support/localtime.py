"""The brand's wall clock in tests: Shanghai times, and freezing the service's clock.

The test brand is in Asia/Shanghai (UTC+8, no daylight saving), so a local day starts at
16:00 UTC the day before.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from wxmember.core.clock import FrozenClock
from wxmember.core.context import Services

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(
    year: int,
    month: int,
    day: int,
    hour: int = 0,
    minute: int = 0,
    second: int = 0,
    microsecond: int = 0,
) -> datetime:
    """A Shanghai wall-clock time: local(2025, 3, 1, 9, 30)."""
    return datetime(year, month, day, hour, minute, second, microsecond, tzinfo=SHANGHAI)


def freeze(services: Services, at: datetime) -> FrozenClock:
    """Stop the service's clock at `at`; the clock, to move it on."""
    clock = FrozenClock(at)
    services.clock = clock
    return clock
