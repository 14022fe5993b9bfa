"""Purchase histories for the RFM tests, and a plain Python reference of the RFM rules.

`History` writes card holders, purchases and refunds straight into the tables at chosen
moments. `reference` computes every card holder's RFM from the same rows with nothing but
Python, following the rules as README and handlers/segments/rules.py state them, so the
set-based run can be compared with it.
"""

from __future__ import annotations

import itertools
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from handlers.segments.rules import Cuts, amount_score, classic_segment, recency_score
from tests.factories import entry_tier
from tests.support.localtime import SHANGHAI, local
from wxmember.core.models.members import Member
from wxmember.core.models.pos import Purchase, PurchaseRefund

# The run's day: 15 June 2025 in Shanghai; it measures what happened before local midnight.
TODAY = date(2025, 6, 15)
AS_OF = local(2025, 6, 15)
NOW = local(2025, 6, 15, 9, 30)
OPENED = local(2024, 1, 10, 10, 0)

_numbers = itertools.count(1)


class History:
    """Card holders, purchases and refunds written at the moments a test chooses."""

    async def holder(self, opened: datetime | None = OPENED, *, deleted: bool = False) -> Member:
        """A card holder; `opened=None`: a card with no opening time on record (imported)."""
        n = next(_numbers)
        return await Member.create(
            openid=f"rfm-{n}-{secrets.token_hex(4)}",
            name=f"会员{n}",
            card_no=f"{6600_0000_0000_0000 + n}",
            card_opened_at=opened,
            code_secret=secrets.token_hex(20),
            tier=await entry_tier(),
            deleted_at=(opened or OPENED) + timedelta(days=1) if deleted else None,
        )

    async def guest(self) -> Member:
        """A member who logged in but opened no card."""
        n = next(_numbers)
        return await Member.create(openid=f"guest-{n}-{secrets.token_hex(4)}")

    async def buy(
        self,
        member: Member,
        at: datetime,
        fen: int,
        *,
        refunds: tuple[tuple[datetime, int], ...] = (),
    ) -> Purchase:
        n = next(_numbers)
        purchase = await Purchase.create(
            order_no=f"RFM-{n}-{secrets.token_hex(3)}",
            member_id=member.id,
            amount_fen=fen,
            created_at=at,
            refunded_fen=sum(amount for _, amount in refunds),
        )
        for index, (when, amount) in enumerate(refunds):
            await PurchaseRefund.create(
                purchase_id=purchase.id, refund_no=f"R{index}", amount_fen=amount, created_at=when
            )
        return purchase


@dataclass(frozen=True)
class Expected:
    recency_days: int | None
    frequency: int
    monetary_fen: int
    r_score: int | None
    f_score: int | None
    m_score: int | None
    segment: str


def _ntile_tops(values: list[int], *, descending: bool = False) -> dict[int, int]:
    """The last value of each NTILE(5) group of the sorted values (SQL's definition)."""
    ordered = sorted(values, reverse=descending)
    n = len(ordered)
    base, extra = divmod(n, 5)
    tops, start = {}, 0
    for group in range(1, 6):
        size = base + (1 if group <= extra else 0)
        if size:
            tops[group] = ordered[start + size - 1]
        start += size
    return tops


def _days(as_of: datetime, moment: datetime) -> int:
    seconds = int(as_of.timestamp()) - int(moment.timestamp() // 1)
    return (seconds + 86399) // 86400


async def reference(
    day: date,
    *,
    window_days: int = 365,
    new_days: int = 30,
    high: int = 3,
    cuts: Cuts | None = None,
) -> tuple[dict[int, Expected], Cuts]:
    """Every card holder's RFM as of `day`, computed in Python from the rows."""
    as_of = datetime(day.year, day.month, day.day, tzinfo=SHANGHAI)
    since = as_of - timedelta(days=window_days)
    new_since = as_of - timedelta(days=new_days)
    holders = [
        m
        for m in await Member.all()
        if m.card_no is not None
        and m.deleted_at is None
        and (m.card_opened_at is None or m.card_opened_at < as_of)
    ]
    refunded: dict[int, int] = {}
    for refund in await PurchaseRefund.all():
        if refund.created_at < as_of:
            refunded[refund.purchase_id] = refunded.get(refund.purchase_id, 0) + refund.amount_fen
    counted: dict[int, list[tuple[datetime, int]]] = {}
    for purchase in await Purchase.all():
        net = purchase.amount_fen - refunded.get(purchase.id, 0)
        if purchase.created_at < as_of and net > 0:
            counted.setdefault(purchase.member_id, []).append((purchase.created_at, net))
    measured: dict[int, tuple[int, int, int, datetime]] = {}
    for member in holders:
        bought = counted.get(member.id)
        if not bought:
            continue
        last = max(at for at, _ in bought)
        first = min(at for at, _ in bought)
        window = [net for at, net in bought if at >= since]
        measured[member.id] = (_days(as_of, last), len(window), sum(window), first)
    if cuts is None:
        cuts = Cuts.from_groups(
            _ntile_tops([v[0] for v in measured.values()], descending=True),
            _ntile_tops([v[1] for v in measured.values()]),
            _ntile_tops([v[2] for v in measured.values()]),
        )
    out: dict[int, Expected] = {}
    for member in holders:
        if member.id not in measured:
            out[member.id] = Expected(None, 0, 0, None, None, None, "never_purchased")
            continue
        rd, f, m, first = measured[member.id]
        rs, fs, ms = recency_score(rd, cuts), amount_score(f, cuts.f), amount_score(m, cuts.m)
        segment = "new" if first >= new_since else str(classic_segment(rs, fs, ms, high))
        out[member.id] = Expected(rd, f, m, rs, fs, ms, segment)
    return out, cuts
