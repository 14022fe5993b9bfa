"""Daily check-in: the rules in force, once per local day, streaks, make-ups and the month's
calendar.
"""

from __future__ import annotations

from handlers.checkin.daily import CheckinResult, MakeupResult, check_in, checkin_growth, make_up

__all__ = ["CheckinResult", "MakeupResult", "check_in", "checkin_growth", "make_up"]
