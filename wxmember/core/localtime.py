"""The brand's local time: "today", local midnight and the end of a local day, in one place.

Everything is stored in UTC; days that members see (check-in days, birthdays, "expires on") are
days in the brand's time zone (`config.brand.timezone`). Two end-of-day conventions exist, on
purpose, and both are computed here:

- **Points** are usable through the whole of their last day: a lot's `expires_at` is the last
  second of that local day (23:59:59), and a lot counts as expired once the clock is past it
  (whole seconds). The ledger shows "expires 2026-12-31" and the points work until midnight.
- **Coupons** are valid in a half-open range `[valid_from, valid_until)`: `valid_until` is local
  midnight at the start of the day after the last usable day. A half-open range compares with
  `<` and needs no "last second" arithmetic, and the template's fixed dates use the same form.

Jobs that expire either run a little after the hour, so both conventions agree on what is due.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from wxmember.core.context import Services

LAST_SECOND = time(23, 59, 59)


def local_today(services: Services) -> date:
    """Today in the brand's time zone, by the service's clock."""
    return services.clock.local_today(services.config.brand.tz)


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """The first moment of a local day, in UTC (the end of a coupon's half-open validity)."""
    return datetime.combine(day, time.min, tzinfo=tz).astimezone(UTC)


def end_of_local_day(day: date, tz: ZoneInfo) -> datetime:
    """The last second of a local day, in UTC (when points of that day expire)."""
    return datetime.combine(day, LAST_SECOND, tzinfo=tz).astimezone(UTC)


def whole_second(moment: datetime) -> datetime:
    """The moment in UTC without its fraction: points expiry compares whole seconds."""
    return moment.astimezone(UTC).replace(microsecond=0)
