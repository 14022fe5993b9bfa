"""Adding stock to a coupon template, and counting each template's coupons by status."""

from __future__ import annotations

import pytest

from handlers.coupons.issuing import issue_coupon
from handlers.coupons.templates import add_stock, usage_counts
from handlers.operators.accounts import create_operator
from tests.coupons.conftest import TemplateMaker
from tests.factories import create_member
from wxmember.core.context import Services
from wxmember.core.errors import Conflict, ValidationFailed
from wxmember.core.models import AuditEntry, Operator, Role
from wxmember.core.models.coupons import Coupon, CouponStatus, CouponTemplate


@pytest.fixture
async def operator(client: object) -> Operator:
    return await create_operator("op-stock", "stock-password-1", Role.OPERATOR)


class TestAddStock:
    async def test_stock_and_what_is_left_grow_together_audited(
        self, services: Services, operator: Operator, new_template: TemplateMaker
    ) -> None:
        template = await new_template(total_stock=10)
        member = await create_member()
        await issue_coupon(
            services, member.id, template.id, reason="test", idempotency_key="stock-1"
        )
        await add_stock(services, operator, template.id, 5)
        template = await CouponTemplate.get(id=template.id)
        assert (template.total_stock, template.remaining, template.claimed) == (15, 14, 1)
        entry = await AuditEntry.get(action="coupon_template.stock")
        assert entry.before is not None and entry.after is not None
        assert (entry.before["total_stock"], entry.after["total_stock"]) == (10, 15)
        assert entry.after["add"] == 5

    async def test_a_template_without_a_stock_limit_is_refused(
        self, services: Services, operator: Operator, new_template: TemplateMaker
    ) -> None:
        template = await new_template(total_stock=None)
        with pytest.raises(Conflict) as refused:
            await add_stock(services, operator, template.id, 5)
        assert refused.value.code == "stock_unlimited"

    @pytest.mark.parametrize("add", [0, -3, 100_000_001])
    async def test_only_a_positive_number_within_the_limit_is_added(
        self, services: Services, operator: Operator, new_template: TemplateMaker, add: int
    ) -> None:
        template = await new_template(total_stock=10)
        with pytest.raises(ValidationFailed) as refused:
            await add_stock(services, operator, template.id, add)
        assert refused.value.code == "invalid_add"
        assert (await CouponTemplate.get(id=template.id)).total_stock == 10


class TestUsageCounts:
    async def test_coupons_are_counted_by_template_and_status(
        self, services: Services, new_template: TemplateMaker
    ) -> None:
        first, second, unused = [await new_template(title=t) for t in ("甲", "乙", "丙")]
        for n in range(3):
            member = await create_member()
            await issue_coupon(
                services, member.id, first.id, reason="test", idempotency_key=f"usage-{n}"
            )
        member = await create_member()
        await issue_coupon(services, member.id, second.id, reason="test", idempotency_key="u-2")
        used = await Coupon.filter(template_id=first.id).order_by("id").first()
        assert used is not None
        await Coupon.filter(id=used.id).update(status=CouponStatus.USED)
        counts = await usage_counts([first.id, second.id, unused.id])
        assert counts[first.id] == {"unused": 2, "used": 1, "expired": 0}
        assert counts[second.id] == {"unused": 1, "used": 0, "expired": 0}
        assert counts[unused.id] == {"unused": 0, "used": 0, "expired": 0}

    async def test_no_templates_no_query(self) -> None:
        assert await usage_counts([]) == {}
