"""Four days of a small brand's activity (1–4 March 2025, Shanghai), and "today", 5 March."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from aiohttp.test_utils import TestClient

from handlers import points
from handlers.points.ledger import expire_due_lots
from tests.dashboard.kit import Brand
from tests.support.localtime import local
from wxmember.core.context import Services
from wxmember.core.localtime import end_of_local_day
from wxmember.core.models.reminders import ReminderDelivery, ReminderRule

DAYS = [date(2025, 3, 1), date(2025, 3, 2), date(2025, 3, 3), date(2025, 3, 4)]
TODAY = date(2025, 3, 5)


async def _deliveries(brand: Brand, member_ids: list[int], day: date) -> None:
    rule = await ReminderRule.create(
        name="生日祝福",
        kind="birthday",
        send_time="09:00",
        channel="miniapp_subscribe",
        template_id="tpl-birthday",
    )
    now = brand.clock.now()
    for member_id, state in zip(member_ids, ("sent", "skipped", "sent"), strict=False):
        await ReminderDelivery.create(
            rule=rule,
            member_id=member_id,
            occasion=f"birthday:{day.year}",
            day=day,
            channel="miniapp_subscribe",
            template_id="tpl-birthday",
            state=state,
            created_at=now,
            updated_at=now,
        )


@pytest.fixture
async def brand(client: TestClient, services: Services) -> Brand:
    """The activity of 1–4 March (4 March quiet); the clock stands at 5 March 10:00."""
    brand = await Brand(services, local(2025, 3, 1, 8, 0)).open()
    # 1 March: three cards (the last a second before local midnight), a check-in, a purchase,
    # a follow.
    first = await brand.member(local(2025, 3, 1, 9, 0), unionid=True)
    second = await brand.member(local(2025, 3, 1, 10, 0))
    late = await brand.member(local(2025, 3, 1, 23, 59, 59))
    await brand.check_in(first, local(2025, 3, 1, 9, 5))
    await brand.purchase(second, local(2025, 3, 1, 11, 0), 20000)
    await brand.follow(first, local(2025, 3, 1, 12, 0))
    # 2 March: a card a second after midnight, check-ins, purchases (one upgrades to silver),
    # claims, a mall redemption, points that expire at the end of the day.
    night = await brand.member(local(2025, 3, 2, 0, 0, 1), unionid=True)
    await brand.check_in(first, local(2025, 3, 2, 8, 0))
    await brand.check_in(late, local(2025, 3, 2, 8, 30))
    await brand.purchase(second, local(2025, 3, 2, 12, 0), 40000)
    await brand.purchase(first, local(2025, 3, 2, 12, 30), 10000)
    coupon = await brand.claim(first, local(2025, 3, 2, 13, 0))
    await brand.claim(second, local(2025, 3, 2, 13, 5))
    await brand.redeem_item(first, local(2025, 3, 2, 14, 0))
    brand.at(local(2025, 3, 2, 15, 0))
    await points.earn(
        services,
        night.id,
        30,
        reason="campaign",
        idempotency_key="dash-campaign",
        expires_at=end_of_local_day(DAYS[1], services.config.brand.tz),
    )
    # 3 March: the points expire, a write-off, a follow and an unfollow, a deleted account,
    # reminders of the day.
    brand.at(local(2025, 3, 3, 1, 5))
    await expire_due_lots(services)
    await brand.write_off(coupon, local(2025, 3, 3, 10, 0))
    await brand.follow(night, local(2025, 3, 3, 11, 0))
    await brand.unfollow(first, local(2025, 3, 3, 20, 0))
    await brand.delete(late, local(2025, 3, 3, 21, 0))
    await _deliveries(brand, [first.id, second.id, night.id], DAYS[2])
    # 5 March (today): a check-in and a card.
    await brand.check_in(second, local(2025, 3, 5, 9, 0))
    await brand.member(local(2025, 3, 5, 9, 30))
    brand.at(local(2025, 3, 5, 10, 0))
    return brand


def yesterday() -> date:
    return TODAY - timedelta(days=1)
