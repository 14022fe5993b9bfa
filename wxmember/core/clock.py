"""Time, injectable: the service asks a Clock, tests move it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo


class Clock:
    """The real clock, in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def local_now(self, tz: ZoneInfo) -> datetime:
        return self.now().astimezone(tz)

    def local_today(self, tz: ZoneInfo) -> date:
        return self.local_now(tz).date()


class FrozenClock(Clock):
    """A clock that stands still until moved; for tests and the demo's "run on date"."""

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FrozenClock needs an aware datetime")
        self._at = at.astimezone(UTC)

    def now(self) -> datetime:
        return self._at

    def set(self, at: datetime) -> None:
        self._at = at.astimezone(UTC)

    def advance(self, **delta: float) -> None:
        self._at += timedelta(**delta)
