"""The ledger operations other capabilities build on: earn, spend, refund_spend, take_back."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from tortoise.transactions import in_transaction

from handlers import points
from tests.factories import create_member
from tests.support.ledger import assert_ledger_consistent
from tests.support.localtime import freeze, local
from wxmember.core.context import Services
from wxmember.core.errors import Conflict, NotFound, ValidationFailed
from wxmember.core.models import Member
from wxmember.core.models.points import (
    NEVER_EXPIRES,
    EntryKind,
    PointsAllocation,
    PointsEntry,
    PointsLot,
)


async def _lots(member_id: int) -> list[tuple[int, int]]:
    """(amount, remaining) of the member's lots, oldest first."""
    return [
        (lot.amount, lot.remaining)
        for lot in await PointsLot.filter(member_id=member_id).order_by("id")
    ]


class TestEarn:
    async def test_earn_creates_entry_and_lot(self, services: Services) -> None:
        freeze(services, local(2025, 3, 10, 9, 0))
        member = await create_member()
        entry = await points.earn(services, member.id, 120, reason="welcome", idempotency_key="e1")
        assert (entry.kind, entry.amount, entry.balance_after) == (EntryKind.EARN, 120, 120)
        lot = await PointsLot.get(entry_id=entry.id)
        assert (lot.amount, lot.remaining) == (120, 120)
        assert lot.expires_at == local(2026, 3, 10, 23, 59, 59)
        assert (await Member.get(id=member.id)).points_balance == 120
        await assert_ledger_consistent(member.id)

    async def test_same_key_twice_changes_nothing(self, services: Services) -> None:
        member = await create_member()
        first = await points.earn(services, member.id, 50, reason="gift", idempotency_key="g1")
        again = await points.earn(services, member.id, 50, reason="gift", idempotency_key="g1")
        assert again.id == first.id
        assert await PointsEntry.filter(member_id=member.id).count() == 1
        assert (await Member.get(id=member.id)).points_balance == 50

    async def test_same_key_for_another_change_is_409(self, services: Services) -> None:
        member = await create_member()
        other = await create_member()
        await points.earn(services, member.id, 50, reason="gift", idempotency_key="g1")
        for call in (
            points.earn(services, member.id, 60, reason="gift", idempotency_key="g1"),
            points.earn(services, other.id, 50, reason="gift", idempotency_key="g1"),
            points.spend(services, member.id, 50, reason="gift", idempotency_key="g1"),
        ):
            with pytest.raises(Conflict) as caught:
                await call
            assert caught.value.code == "idempotency_key_reused"
        assert (await Member.get(id=member.id)).points_balance == 50

    async def test_concurrent_same_key_earns_once(self, services: Services) -> None:
        member = await create_member()
        entries = await asyncio.gather(
            *(
                points.earn(services, member.id, 10, reason="gift", idempotency_key="same")
                for _ in range(10)
            )
        )
        assert len({entry.id for entry in entries}) == 1
        assert (await assert_ledger_consistent(member.id)).points_balance == 10

    @pytest.mark.parametrize(
        ("amount", "reason", "key", "code"),
        [
            (0, "r", "k", "invalid_amount"),
            (-5, "r", "k", "invalid_amount"),
            (points.MAX_AMOUNT + 1, "r", "k", "invalid_amount"),
            (5, "", "k", "invalid_reason"),
            (5, "r" * 201, "k", "invalid_reason"),
            (5, "r", "", "invalid_idempotency_key"),
            (5, "r", "k" * 129, "invalid_idempotency_key"),
        ],
    )
    async def test_bad_arguments(
        self, services: Services, amount: int, reason: str, key: str, code: str
    ) -> None:
        member = await create_member()
        with pytest.raises(ValidationFailed) as caught:
            await points.earn(services, member.id, amount, reason=reason, idempotency_key=key)
        assert caught.value.code == code

    async def test_reference_too_long(self, services: Services) -> None:
        member = await create_member()
        with pytest.raises(ValidationFailed) as caught:
            await points.earn(
                services, member.id, 5, reason="r", idempotency_key="k", reference="x" * 65
            )
        assert caught.value.code == "invalid_reference"

    async def test_unknown_member(self, services: Services) -> None:
        with pytest.raises(NotFound) as caught:
            await points.earn(services, 4040, 5, reason="r", idempotency_key="k")
        assert caught.value.code == "member_not_found"

    async def test_explicit_expiry_is_kept(self, services: Services) -> None:
        freeze(services, local(2025, 3, 10, 9, 0))
        member = await create_member()
        entry = await points.earn(
            services,
            member.id,
            5,
            reason="r",
            idempotency_key="k",
            expires_at=local(2025, 4, 1, 12, 0, 0, 500),
        )
        assert (await PointsLot.get(entry_id=entry.id)).expires_at == local(2025, 4, 1, 12, 0)


class TestOpenBalances:
    async def test_new_accounts_open_with_one_earn_each_as_earn_would_write_it(
        self, services: Services
    ) -> None:
        freeze(services, local(2025, 3, 10, 9, 0))
        ann, bob = await create_member(), await create_member()
        async with in_transaction() as conn:
            await points.open_balances(
                services,
                conn,
                [
                    points.OpeningBalance(ann.id, 70, "open:ann"),
                    points.OpeningBalance(bob.id, 5, "open:bob", local(2025, 4, 1, 12, 0, 0, 500)),
                ],
                reason="import",
                reference="ref",
            )
        earned = await points.earn(
            services, (await create_member()).id, 70, reason="x", idempotency_key="e"
        )
        for member, amount, expiry in (
            (ann, 70, (await PointsLot.get(entry_id=earned.id)).expires_at),
            (bob, 5, local(2025, 4, 1, 12, 0)),
        ):
            assert (await assert_ledger_consistent(member.id)).points_balance == amount
            entry = await PointsEntry.get(member_id=member.id)
            assert (entry.kind, entry.amount, entry.balance_after, entry.reference) == (
                EntryKind.EARN,
                amount,
                amount,
                "ref",
            )
            assert entry.expires_at == expiry
            assert (await PointsLot.get(entry_id=entry.id)).expires_at == expiry

    async def test_a_key_another_member_holds_is_refused_and_nothing_is_written(
        self, services: Services
    ) -> None:
        ann, bob = await create_member(), await create_member()
        await points.earn(services, ann.id, 10, reason="x", idempotency_key="taken")
        with pytest.raises(Conflict) as refused:
            async with in_transaction() as conn:
                await points.open_balances(
                    services, conn, [points.OpeningBalance(bob.id, 10, "taken")], reason="import"
                )
        assert refused.value.code == "idempotency_key_reused"
        assert (await Member.get(id=bob.id)).points_balance == 0
        assert not await PointsLot.filter(member_id=bob.id).exists()


class TestSpend:
    async def test_spends_earliest_expiring_lots_first(self, services: Services) -> None:
        freeze(services, local(2025, 1, 5, 10, 0))
        member = await create_member()
        late = await points.earn(
            services,
            member.id,
            100,
            reason="r",
            idempotency_key="late",
            expires_at=local(2025, 12, 31, 23, 59, 59),
        )
        never = await points.earn(
            services,
            member.id,
            100,
            reason="r",
            idempotency_key="never",
            expires_at=NEVER_EXPIRES,
        )
        early = await points.earn(
            services,
            member.id,
            100,
            reason="r",
            idempotency_key="early",
            expires_at=local(2025, 2, 1, 23, 59, 59),
        )
        also_early = await points.earn(
            services,
            member.id,
            30,
            reason="r",
            idempotency_key="early2",
            expires_at=local(2025, 2, 1, 23, 59, 59),
        )
        spent = await points.spend(services, member.id, 150, reason="mall", idempotency_key="s1")
        assert (spent.amount, spent.balance_after) == (-150, 180)
        taken = {
            lot_entry: amount
            for lot_entry, amount in await PointsAllocation.filter(entry_id=spent.id).values_list(
                "lot__entry_id", "amount"
            )
        }
        assert taken == {early.id: 100, also_early.id: 30, late.id: 20}
        assert never.id not in taken
        await points.spend(services, member.id, 180, reason="mall", idempotency_key="s2")
        assert await _lots(member.id) == [(100, 0), (100, 0), (100, 0), (30, 0)]
        await assert_ledger_consistent(member.id)

    async def test_insufficient_points(self, services: Services) -> None:
        member = await create_member()
        await points.earn(services, member.id, 40, reason="r", idempotency_key="e")
        with pytest.raises(Conflict) as caught:
            await points.spend(services, member.id, 41, reason="mall", idempotency_key="s")
        assert caught.value.code == "insufficient_points"
        assert caught.value.details == {"balance": 40, "needed": 41}
        assert not await PointsEntry.exists(idempotency_key="s")
        assert (await assert_ledger_consistent(member.id)).points_balance == 40

    async def test_spend_is_idempotent(self, services: Services) -> None:
        member = await create_member()
        await points.earn(services, member.id, 40, reason="r", idempotency_key="e")
        first = await points.spend(services, member.id, 30, reason="mall", idempotency_key="s")
        again = await points.spend(services, member.id, 30, reason="mall", idempotency_key="s")
        assert first.id == again.id
        assert (await assert_ledger_consistent(member.id)).points_balance == 10

    async def test_concurrent_retries_of_one_spend_spend_once(self, services: Services) -> None:
        member = await create_member()
        await points.earn(services, member.id, 100, reason="r", idempotency_key="e")
        entries = await asyncio.gather(
            *(
                points.spend(services, member.id, 60, reason="mall", idempotency_key="once")
                for _ in range(10)
            )
        )
        assert len({entry.id for entry in entries}) == 1
        assert (await assert_ledger_consistent(member.id)).points_balance == 40

    async def test_concurrent_spends_never_overdraw(self, services: Services) -> None:
        member = await create_member()
        await points.earn(services, member.id, 100, reason="r", idempotency_key="e")

        async def attempt(n: int) -> bool:
            try:
                await points.spend(services, member.id, 7, reason="mall", idempotency_key=f"s{n}")
            except Conflict as exc:
                assert exc.code == "insufficient_points"
                return False
            return True

        results = await asyncio.gather(*(attempt(n) for n in range(50)))
        assert sum(results) == 14
        assert (await assert_ledger_consistent(member.id)).points_balance == 2


class TestRefundSpend:
    async def test_gives_back_with_the_original_expiry(self, services: Services) -> None:
        freeze(services, local(2025, 1, 5, 10, 0))
        member = await create_member()
        first = local(2025, 6, 30, 23, 59, 59)
        second = local(2025, 9, 30, 23, 59, 59)
        await points.earn(
            services, member.id, 30, reason="r", idempotency_key="a", expires_at=first
        )
        await points.earn(
            services, member.id, 50, reason="r", idempotency_key="b", expires_at=second
        )
        await points.spend(services, member.id, 60, reason="mall", idempotency_key="s")
        refund = await points.refund_spend(
            services, "s", idempotency_key="s:refund", reason="mall_cancel"
        )
        assert (refund.kind, refund.amount, refund.balance_after) == (EntryKind.REFUND, 60, 80)
        lots = await PointsLot.filter(entry_id=refund.id).order_by("expires_at")
        assert [(lot.expires_at, lot.amount) for lot in lots] == [(first, 30), (second, 30)]
        await assert_ledger_consistent(member.id)

    async def test_past_expiry_gets_a_fresh_one(self, services: Services) -> None:
        clock = freeze(services, local(2025, 1, 5, 10, 0))
        member = await create_member()
        soon = local(2025, 1, 31, 23, 59, 59)
        await points.earn(services, member.id, 30, reason="r", idempotency_key="a", expires_at=soon)
        await points.spend(services, member.id, 30, reason="mall", idempotency_key="s")
        clock.set(local(2025, 2, 10, 8, 0))
        refund = await points.refund_spend(services, "s", idempotency_key="r", reason="cancel")
        lot = await PointsLot.get(entry_id=refund.id)
        assert lot.expires_at == local(2026, 2, 10, 23, 59, 59)

    async def test_refund_is_idempotent_and_once_per_spend(self, services: Services) -> None:
        member = await create_member()
        await points.earn(services, member.id, 30, reason="r", idempotency_key="a")
        await points.spend(services, member.id, 20, reason="mall", idempotency_key="s")
        first = await points.refund_spend(services, "s", idempotency_key="r1", reason="cancel")
        again = await points.refund_spend(services, "s", idempotency_key="r1", reason="cancel")
        assert first.id == again.id
        with pytest.raises(Conflict) as caught:
            await points.refund_spend(services, "s", idempotency_key="r2", reason="cancel")
        assert caught.value.code == "spend_already_refunded"
        assert (await assert_ledger_consistent(member.id)).points_balance == 30

    async def test_concurrent_retries_of_one_refund(self, services: Services) -> None:
        member = await create_member()
        await points.earn(services, member.id, 30, reason="r", idempotency_key="a")
        await points.spend(services, member.id, 20, reason="mall", idempotency_key="s")
        entries = await asyncio.gather(
            *(
                points.refund_spend(services, "s", idempotency_key="r", reason="cancel")
                for _ in range(10)
            )
        )
        assert len({entry.id for entry in entries}) == 1
        assert (await assert_ledger_consistent(member.id)).points_balance == 30

    async def test_unknown_spend_and_reused_key(self, services: Services) -> None:
        member = await create_member()
        await points.earn(services, member.id, 30, reason="r", idempotency_key="a")
        await points.spend(services, member.id, 10, reason="mall", idempotency_key="s1")
        await points.spend(services, member.id, 10, reason="mall", idempotency_key="s2")
        with pytest.raises(NotFound) as caught:
            await points.refund_spend(services, "nope", idempotency_key="r", reason="cancel")
        assert caught.value.code == "spend_not_found"
        with pytest.raises(NotFound):
            await points.refund_spend(services, "a", idempotency_key="r", reason="cancel")
        await points.refund_spend(services, "s1", idempotency_key="r", reason="cancel")
        with pytest.raises(Conflict) as reused:
            await points.refund_spend(services, "s2", idempotency_key="r", reason="cancel")
        assert reused.value.code == "idempotency_key_reused"


class TestTakeBackAndDebt:
    async def test_shortfall_becomes_debt_and_is_settled_first(self, services: Services) -> None:
        member = await create_member()
        earned = await points.earn(services, member.id, 100, reason="buy", idempotency_key="p")
        await points.spend(services, member.id, 70, reason="mall", idempotency_key="s")
        taken = await points.take_back(
            services, member.id, 100, reason="refund", idempotency_key="t", from_entry=earned
        )
        assert (taken.amount, taken.debt_change, taken.balance_after, taken.debt_after) == (
            -30,
            70,
            0,
            70,
        )
        settled = await points.earn(services, member.id, 50, reason="buy", idempotency_key="p2")
        assert (settled.amount, settled.debt_change, settled.gross_amount) == (0, -50, 50)
        assert not await PointsLot.exists(entry_id=settled.id)
        more = await points.earn(services, member.id, 50, reason="buy", idempotency_key="p3")
        assert (more.amount, more.debt_change, more.balance_after, more.debt_after) == (
            30,
            -20,
            30,
            0,
        )
        assert (await PointsLot.get(entry_id=more.id)).amount == 30
        await assert_ledger_consistent(member.id)

    async def test_refuse_mode(self, services: Services) -> None:
        services.config = services.config.replace(points={"refund_shortfall": "refuse"})
        member = await create_member()
        await points.earn(services, member.id, 10, reason="buy", idempotency_key="p")
        with pytest.raises(Conflict) as caught:
            await points.take_back(services, member.id, 11, reason="refund", idempotency_key="t")
        assert caught.value.code == "insufficient_points"
        taken = await points.take_back(
            services, member.id, 10, reason="refund", idempotency_key="t2"
        )
        assert taken.balance_after == 0
        await assert_ledger_consistent(member.id)

    async def test_takes_the_purchase_lot_first(self, services: Services) -> None:
        freeze(services, local(2025, 1, 5, 10, 0))
        member = await create_member()
        await points.earn(
            services,
            member.id,
            40,
            reason="r",
            idempotency_key="old",
            expires_at=local(2025, 2, 1, 23, 59, 59),
        )
        purchase = await points.earn(services, member.id, 25, reason="buy", idempotency_key="p")
        await points.take_back(
            services, member.id, 30, reason="refund", idempotency_key="t", from_entry=purchase
        )
        assert await _lots(member.id) == [(40, 35), (25, 0)]


class TestExpiry:
    async def test_expired_lots_leave_before_a_spend(self, services: Services) -> None:
        clock = freeze(services, local(2025, 1, 5, 10, 0))
        member = await create_member()
        await points.earn(
            services,
            member.id,
            40,
            reason="r",
            idempotency_key="a",
            expires_at=local(2025, 1, 31, 23, 59, 59),
        )
        await points.earn(services, member.id, 10, reason="r", idempotency_key="b")
        clock.set(local(2025, 1, 31, 23, 59, 59))
        await points.spend(services, member.id, 1, reason="mall", idempotency_key="s0")
        clock.set(local(2025, 2, 1, 0, 0, 0))
        with pytest.raises(Conflict) as caught:
            await points.spend(services, member.id, 20, reason="mall", idempotency_key="s1")
        assert caught.value.details == {"balance": 10, "needed": 20}
        spent = await points.spend(services, member.id, 10, reason="mall", idempotency_key="s2")
        assert spent.balance_after == 0
        expired = await PointsEntry.get(member_id=member.id, kind=EntryKind.EXPIRE)
        assert (expired.amount, expired.balance_after) == (-39, 10)
        assert expired.id < spent.id
        await assert_ledger_consistent(member.id)

    async def test_expire_due_lots_job(self, services: Services) -> None:
        clock = freeze(services, local(2025, 1, 5, 10, 0))
        members = [await create_member() for _ in range(3)]
        for n, member in enumerate(members):
            for k in range(2):
                await points.earn(
                    services,
                    member.id,
                    10 + n,
                    reason="r",
                    idempotency_key=f"{n}-{k}",
                    expires_at=local(2025, 1, 10 + k, 23, 59, 59),
                )
        await points.spend(services, members[0].id, 15, reason="mall", idempotency_key="s")
        clock.advance(days=30)
        assert await points.expire_due_lots(services, batch_size=2) == 5
        assert await points.expire_due_lots(services) == 0
        for member in members:
            assert (await assert_ledger_consistent(member.id)).points_balance == 0
        assert await PointsEntry.filter(kind=EntryKind.EXPIRE).count() == 3

    async def test_expire_due_lots_with_explicit_now(self, services: Services) -> None:
        freeze(services, local(2025, 1, 5, 10, 0))
        member = await create_member()
        await points.earn(
            services,
            member.id,
            10,
            reason="r",
            idempotency_key="a",
            expires_at=local(2025, 1, 10, 23, 59, 59),
        )
        assert await points.expire_due_lots(services, now=local(2025, 1, 10, 23, 59, 59)) == 0
        assert (
            await points.expire_due_lots(
                services, now=local(2025, 1, 10, 23, 59, 59) + timedelta(seconds=1)
            )
            == 1
        )
