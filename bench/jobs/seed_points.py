"""Seeding for points expiry: members with earn lots, some partly spent, a share past expiry.

Each member's history is built in time order the way the ledger writes it: one earn entry and
one lot per purchase (expiry by the configured policy, `handlers.points.lots.expiry_for`), and
for some members a spend that took points from their lots earliest expiry first, recorded as
allocations. So `points_balance == sum(entries.amount) == sum(lots.remaining)` for every member.
Lots were earned over a window long enough that the chosen share is past expiry now: the
backlog of a job that has not run for a while.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bench.jobs.bulk import Loader, Record
from bench.jobs.ladder import Rung, pick_tier
from bench.jobs.people import MEMBER_COLUMNS, MemberFactory
from bench.jobs.progress import say
from handlers.points.lots import expiry_for
from wxmember.core.config import Config

ENTRY_COLUMNS = tuple(
    "id member_id kind amount balance_after debt_change debt_after reason reference"
    " idempotency_key expires_at created_at".split()
)
LOT_COLUMNS = ("id", "member_id", "entry_id", "amount", "remaining", "expires_at", "created_at")
ALLOCATION_COLUMNS = ("id", "entry_id", "lot_id", "amount")
SPENDER_SHARE = 0.4
CHUNK = 10_000


@dataclass
class PointsSeed:
    """What was seeded and what the expiry must take."""

    lots: int = 0
    due_lots: int = 0
    due_members: int = 0
    due_points: int = 0
    balance_total: int = 0
    spends: int = 0


@dataclass
class _Lot:
    id: int
    amount: int
    remaining: int
    expires_at: datetime
    created_at: datetime


@dataclass
class _Rows:
    members: list[Record] = field(default_factory=list)
    entries: list[Record] = field(default_factory=list)
    lots: list[Record] = field(default_factory=list)
    allocations: list[Record] = field(default_factory=list)
    last: dict[str, int] = field(default_factory=lambda: {"entry": 0, "lot": 0, "alloc": 0})

    def next_id(self, kind: str) -> int:
        self.last[kind] += 1
        return self.last[kind]


class PointsSeeder:
    """Builds `lots` lots over `members` members, `due_share` of them earned long enough ago."""

    def __init__(
        self, config: Config, ladder: list[Rung], factory: MemberFactory, due_share: float
    ) -> None:
        self.config, self.ladder, self.factory = config, ladder, factory
        self.rng: random.Random = factory.rng
        self.now = factory.now
        # Lots live `rolling_months`; earning over a longer window leaves `due_share` past due.
        life_days = config.points.rolling_months * 365 / 12
        self.window = timedelta(days=life_days / (1 - due_share))
        self.outcome = PointsSeed()

    def lot_counts(self, members: int, lots: int) -> list[int]:
        """Lots per member: `lots` in all, varied around the mean in pairs that cancel out."""
        base, extra = divmod(lots, members)
        counts = [base + (1 if i < extra else 0) for i in range(members)]
        for i in range(0, members - 1, 2):
            shift = self.rng.randrange(0, max(1, min(counts[i], counts[i + 1])))
            counts[i] += shift
            counts[i + 1] -= shift
        return counts

    async def seed(self, loader: Loader, members: int, lots: int) -> PointsSeed:
        rows = _Rows()
        for member_id, count in enumerate(self.lot_counts(members, lots), start=1):
            self._member(rows, member_id, count)
            if member_id % CHUNK == 0 or member_id == members:
                await loader.copy("members", MEMBER_COLUMNS, rows.members)
                await loader.copy("points_entries", ENTRY_COLUMNS, rows.entries)
                await loader.copy("points_lots", LOT_COLUMNS, rows.lots)
                await loader.copy("points_allocations", ALLOCATION_COLUMNS, rows.allocations)
                rows.members, rows.entries, rows.lots, rows.allocations = [], [], [], []
                if member_id % (10 * CHUNK) == 0:
                    say(f"  {member_id:,} members seeded")
        return self.outcome

    def _member(self, rows: _Rows, member_id: int, count: int) -> None:
        rng = self.rng
        span = int(self.window.total_seconds())
        earned = sorted(
            self.now - timedelta(seconds=rng.randrange(86400, span)) for _ in range(count)
        )
        lots = [
            _Lot(rows.next_id("lot"), amount, amount, expiry_for(self.config, at), at)
            for at, amount in ((at, rng.randrange(10, 501)) for at in earned)
        ]
        spend_at = None
        if lots and rng.random() < SPENDER_SHARE:
            spend_at = lots[0].created_at + (self.now - lots[0].created_at) * rng.random()
        balance = 0
        for lot in lots:
            if spend_at is not None and spend_at < lot.created_at:
                balance = self._spend(rows, member_id, lots, spend_at, balance)
                spend_at = None
            entry_id = rows.next_id("entry")
            balance += lot.amount
            keys = (f"order-{lot.id}", f"bench-earn:{lot.id}")
            head = (entry_id, member_id, "earn", lot.amount, balance, 0, 0, "purchase")
            rows.entries.append((*head, *keys, lot.expires_at, lot.created_at))
            rows.lots.append(
                (lot.id, member_id, entry_id, lot.amount, 0, lot.expires_at, lot.created_at)
            )
        if spend_at is not None:
            balance = self._spend(rows, member_id, lots, spend_at, balance)
        # Remaining is known only once every spend has run: patch it into the lot rows.
        for offset, lot in enumerate(lots, start=len(rows.lots) - len(lots)):
            rows.lots[offset] = rows.lots[offset][:4] + (lot.remaining,) + rows.lots[offset][5:]
        self._tally(lots, balance)
        record = self.factory.record(
            member_id,
            tier_id=self.ladder[pick_tier(rng, self.ladder)].id,
            birthday=self.factory.birthday(),
            points_balance=balance,
        )
        rows.members.append(record)

    def _spend(
        self, rows: _Rows, member_id: int, lots: list[_Lot], at: datetime, balance: int
    ) -> int:
        """A spend at `at` out of the lots earned before it, earliest expiry first."""
        amount = int(balance * self.rng.uniform(0.1, 0.8))
        if amount <= 0:
            return balance
        entry_id = rows.next_id("entry")
        balance -= amount
        head = (entry_id, member_id, "spend", -amount, balance, 0, 0, "mall_redemption")
        rows.entries.append((*head, None, f"bench-spend:{member_id}", None, at))
        need = amount
        held = [lot for lot in lots if lot.created_at < at and lot.remaining > 0]
        for lot in sorted(held, key=lambda lot: (lot.expires_at, lot.id)):
            take = min(lot.remaining, need)
            lot.remaining -= take
            need -= take
            rows.allocations.append((rows.next_id("alloc"), entry_id, lot.id, take))
            if need == 0:
                break
        self.outcome.spends += 1
        return balance

    def _tally(self, lots: list[_Lot], balance: int) -> None:
        due = [lot for lot in lots if lot.remaining > 0 and lot.expires_at < self.now]
        self.outcome.lots += len(lots)
        self.outcome.due_lots += len(due)
        self.outcome.due_members += 1 if due else 0
        self.outcome.due_points += sum(lot.remaining for lot in due)
        self.outcome.balance_total += balance
