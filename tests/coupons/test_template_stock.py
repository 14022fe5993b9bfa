"""Adding stock to a coupon template, and counting each template's coupons by status."""

from __future__ import annotations

from datetime import timedelta

import pytest
from tortoise.transactions import in_transaction

from handlers.coupons.issuing import issue_coupon, take_stock
from handlers.coupons.templates import add_stock, usage_counts
from handlers.coupons.window import window_refusal
from handlers.operators.accounts import create_operator
from tests.coupons.conftest import NOW, TemplateMaker
from tests.factories import create_member
from wxmember.core.context import Services
from wxmember.core.errors import Conflict, ValidationFailed
from wxmember.core.models import AuditEntry, Operator, Role
from wxmember.core.models.coupons import Coupon, CouponStatus, CouponTemplate, Obtain


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


class TestTakeStock:
    """A claim's stock update holds the claim window in SQL; it agrees with the Python reading
    of the same rules (`window_refusal`) on every rule, at its edge."""

    @pytest.mark.parametrize(
        "change",
        [
            {},
            {"obtain": Obtain.ISSUED},
            {"stopped": True},
            {"claim_ends_at": NOW},
            {"claim_ends_at": NOW + timedelta(seconds=1)},
            {"valid_until": NOW},
            {"claim_starts_at": NOW},
            {"claim_starts_at": NOW + timedelta(seconds=1)},
            {"remaining": 0},
        ],
        ids=repr,
    )
    async def test_a_claim_takes_stock_only_while_the_window_is_open(
        self, services: Services, new_template: TemplateMaker, change: dict[str, object]
    ) -> None:
        made = await new_template(total_stock=5)
        await CouponTemplate.filter(id=made.id).update(**change)
        template = await CouponTemplate.get(id=made.id)
        assert template.remaining is not None
        expected = window_refusal(template, NOW) is None and template.remaining != 0

        async with in_transaction() as conn:
            taken = await take_stock(conn, template.id, claim_at=NOW)

        assert taken is expected
        after = await CouponTemplate.get(id=template.id)
        assert (after.remaining, after.claimed) == (
            (template.remaining - 1, 1) if expected else (template.remaining, 0)
        )

    async def test_an_issue_ignores_the_window_but_not_the_stock_or_a_stop(
        self, services: Services, new_template: TemplateMaker
    ) -> None:
        closed = await new_template(obtain=Obtain.ISSUED, total_stock=1)
        stopped = await new_template(total_stock=1)
        await CouponTemplate.filter(id=stopped.id).update(stopped=True)
        unlimited = await new_template(total_stock=None)
        async with in_transaction() as conn:
            assert await take_stock(conn, closed.id)
            assert not await take_stock(conn, closed.id)
            assert not await take_stock(conn, stopped.id)
            assert await take_stock(conn, unlimited.id)
        after = await CouponTemplate.get(id=unlimited.id)
        assert (after.remaining, after.claimed) == (None, 1)
