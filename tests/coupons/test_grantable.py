"""Which templates an operator can give a member now (the console's grant form offers these)."""

from __future__ import annotations

from datetime import timedelta

from aiohttp.test_utils import TestClient

from handlers.coupons.templates import grantable_templates
from tests.coupons.conftest import NOW, TemplateMaker
from wxmember.core.clock import FrozenClock
from wxmember.core.context import Services
from wxmember.core.models.coupons import CouponTemplate


class TestGrantableTemplates:
    async def test_stopped_sold_out_and_past_templates_are_left_out(
        self,
        client: TestClient,
        services: Services,
        clock: FrozenClock,
        new_template: TemplateMaker,
    ) -> None:
        unlimited = await new_template(title="无限量", total_stock=None)
        limited = await new_template(title="限量")
        claim_over = await new_template(title="领取已结束", claim_ends_at=NOW - timedelta(days=1))
        stopped = await new_template(title="已停发")
        sold_out = await new_template(title="已发完")
        past = await new_template(
            title="已过期",
            valid_days=None,
            valid_from=NOW - timedelta(days=30),
            valid_until=NOW - timedelta(days=1),
        )
        await CouponTemplate.filter(id=stopped.id).update(stopped=True)
        await CouponTemplate.filter(id=sold_out.id).update(remaining=0)

        offered = await grantable_templates(services)
        ids = [template.id for template in offered]
        # issuing ignores the claim window: only stock, stopping and validity count
        assert ids == [claim_over.id, limited.id, unlimited.id]
        assert past.id not in ids
