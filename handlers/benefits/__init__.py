"""Tier benefits the scheduler pays: the birthday gift and the monthly coupons, once each."""

from __future__ import annotations

from handlers.benefits.birthday import pay_birthday_gifts
from handlers.benefits.monthly import pay_monthly_coupons
from handlers.benefits.runs import BenefitReport

__all__ = ["BenefitReport", "pay_birthday_gifts", "pay_monthly_coupons"]
