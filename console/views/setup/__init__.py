"""Programme set-up (owners and operators): the tier ladder, check-in rules, coupon templates,
mall items and mall orders, RFM scoring, one module each; this package's `pages` is all of
theirs."""

from __future__ import annotations

from console.pages import Pages
from console.views.setup import checkin, coupons, mall, orders, rfm, tiers

pages = Pages(
    [*tiers.pages, *checkin.pages, *coupons.pages, *mall.pages, *orders.pages, *rfm.pages]
)
