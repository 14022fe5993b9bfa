"""Members and their POS purchases for COPY: what the `segments` and `rfm` benchmarks share.

`PurchaseSeeder.member` draws one member (8 % without a card, 0.5 % deleted, a random tier of
the ladder, a birthday, a points balance) and, for a card holder, 0, 0, 1, 1, 2, 3, 4 or 6
purchases (drawn evenly) over the last `days` days at one of 30 stores; one purchase in 20 is
refunded in part and one in 20 in full. A refund is made two days after its purchase (at the
seeding moment if that is sooner) and has its `pos_purchase_refunds` row, as the POS API
records it; `refunded_fen` on the purchase is the refunds' sum. `RowBuffer` gathers the rows
of several tables and COPYs them together, parents first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import cast

from bench.jobs.bulk import Loader, Record
from bench.jobs.ladder import Rung
from bench.jobs.people import MEMBER_COLUMNS, MemberFactory

STORES = tuple(f"门店{n:02d}" for n in range(1, 31))
PURCHASES_PER_CARD_HOLDER = (0, 0, 1, 1, 2, 3, 4, 6)
AMOUNTS_FEN = (2_900, 9_900, 19_900, 49_900)
REFUND_AFTER = timedelta(days=2)
PURCHASE_COLUMNS = (
    "id",
    "order_no",
    "member_id",
    "amount_fen",
    "store",
    "multiplier_percent",
    "points",
    "growth",
    "refunded_fen",
    "points_taken_back",
    "growth_taken_back",
    "created_at",
)
REFUND_COLUMNS = (
    "id",
    "purchase_id",
    "refund_no",
    "amount_fen",
    "points_taken_back",
    "points_shortfall",
    "growth_taken_back",
    "operator_id",
    "created_at",
)
MEMBER_TABLES = (
    ("members", MEMBER_COLUMNS),
    ("pos_purchases", PURCHASE_COLUMNS),
    ("pos_purchase_refunds", REFUND_COLUMNS),
)


@dataclass(frozen=True)
class SeededPurchase:
    """What the checks need of a seeded purchase."""

    at: datetime
    amount_fen: int
    refunded_fen: int
    refunded_at: datetime | None


@dataclass(frozen=True)
class SeededMember:
    """One drawn member: the row, what it was drawn from, and the member's purchases."""

    record: Record
    deleted: bool
    has_card: bool
    tier_id: int | None
    birthday: date | None
    card_opened_at: datetime | None
    purchases: list[SeededPurchase] = field(default_factory=list)

    @property
    def last_purchase_at(self) -> datetime | None:
        return max((p.at for p in self.purchases), default=None)


class RowBuffer:
    """Rows of several tables, COPYed together in the order given once the first has `every`."""

    def __init__(
        self, loader: Loader, tables: Sequence[tuple[str, Sequence[str]]], every: int = 20_000
    ) -> None:
        self.loader = loader
        self.tables = tuple(tables)
        self.every = every
        self.rows: dict[str, list[Record]] = {name: [] for name, _ in self.tables}

    async def flush(self, final: bool = False) -> None:
        if not final and len(self.rows[self.tables[0][0]]) < self.every:
            return
        for table, columns in self.tables:
            if self.rows[table]:
                await self.loader.copy(table, columns, self.rows[table])
                self.rows[table] = []


class PurchaseSeeder:
    """Draws members and their purchases into a `RowBuffer` holding `MEMBER_TABLES`."""

    def __init__(
        self, factory: MemberFactory, ladder: Sequence[Rung], now: datetime, days: int
    ) -> None:
        self.factory = factory
        self.rng = factory.rng
        self.ladder = list(ladder)
        self.now = now
        self.days = days
        self.purchase_id = 0
        self.refund_id = 0

    def member(self, member_id: int, rows: RowBuffer) -> SeededMember:
        rng, factory = self.rng, self.factory
        deleted, has_card = factory.status()
        tier = rng.choice(self.ladder).id if has_card else None
        birthday = factory.birthday()
        points = rng.choice((0, 0, 50, 120, 800, 3000))
        record = factory.record(
            member_id, tier_id=tier, deleted=deleted, birthday=birthday, points_balance=points
        )
        rows.rows["members"].append(record)
        opened = cast(datetime | None, record[MEMBER_COLUMNS.index("card_opened_at")])
        seeded = SeededMember(record, deleted, has_card, tier, birthday, opened)
        if has_card:
            for _ in range(rng.choice(PURCHASES_PER_CARD_HOLDER)):
                seeded.purchases.append(self._purchase(member_id, rows))
        return seeded

    def _purchase(self, member_id: int, rows: RowBuffer) -> SeededPurchase:
        rng = self.rng
        self.purchase_id += 1
        purchase_id = self.purchase_id
        at = self.now - timedelta(seconds=rng.randrange(self.days * 86400))
        fen = rng.choice(AMOUNTS_FEN)
        refunded = rng.choice((0,) * 18 + (fen // 2, fen))
        store = rng.choice(STORES)
        rows.rows["pos_purchases"].append(
            (purchase_id, f"B-{purchase_id}", member_id, fen, store, 100, 0, 0, refunded, 0, 0, at)
        )
        refunded_at = None
        if refunded:
            self.refund_id += 1
            refunded_at = min(at + REFUND_AFTER, self.now)
            rows.rows["pos_purchase_refunds"].append(
                (
                    self.refund_id,
                    purchase_id,
                    f"R-{purchase_id}",
                    refunded,
                    0,
                    0,
                    0,
                    None,
                    refunded_at,
                )
            )
        return SeededPurchase(at, fen, refunded, refunded_at)
