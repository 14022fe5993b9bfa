"""Birthday gifts of reminder rules: once per member and year, whether or not a message goes out.

The gift is handed out when the reminder is delivered, before the message is sent and also when
it cannot be sent (no grant, unfollowed, no openid). `gift_key` is unique across deliveries, so
of two birthday rules with gifts only one gives this year's gift (the other records
`duplicate`); the points or coupon operation itself is idempotent on the same key
(`birthday-gift:{member}:{year}`), so a retry after a crash never gives twice.
"""

from __future__ import annotations

import logging

from tortoise.exceptions import IntegrityError

from handlers import coupons, points
from wxmember.core.context import Services
from wxmember.core.errors import DomainError
from wxmember.core.models.reminders import ReminderDelivery, ReminderRule

log = logging.getLogger(__name__)

GIFT_REASON = "birthday_gift"


async def give_birthday_gift(services: Services, rule: ReminderRule, row: ReminderDelivery) -> None:
    """The birthday gift, once per member and year, whether or not the message goes out."""
    year = row.occasion.partition(":")[2]
    key = f"birthday-gift:{row.member_id}:{year}"
    if row.gift_key is None:
        try:
            await ReminderDelivery.filter(id=row.id, gift_key__isnull=True).update(gift_key=key)
        except IntegrityError:
            # Another birthday rule's reminder gives this year's gift.
            await ReminderDelivery.filter(id=row.id).update(gift_state="duplicate")
            row.gift_state = "duplicate"
            return
        row.gift_key = key
    member_id: int = row.member_id
    try:
        if rule.gift_points:
            entry = await points.earn(
                services, member_id, rule.gift_points, reason=GIFT_REASON, idempotency_key=key
            )
            state, ref = "granted", f"points_entry:{entry.id}"
        else:
            assert rule.gift_coupon_template_id is not None
            coupon = await coupons.issue_coupon(
                services,
                member_id,
                rule.gift_coupon_template_id,
                reason=GIFT_REASON,
                idempotency_key=key,
            )
            state, ref = "granted", f"coupon:{coupon.id}"
    except DomainError as exc:
        log.warning("birthday gift refused", extra={"delivery": row.id, "code": exc.code})
        state, ref = "failed", exc.code[:64]
    await ReminderDelivery.filter(id=row.id).update(gift_state=state, gift_ref=ref)
    row.gift_state = state
