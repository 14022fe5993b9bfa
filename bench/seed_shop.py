"""Seeding for the shop scenarios: points that the ledger agrees with, coupon templates, mall items.

Points go in by bulk insert (one earn entry and one lot per member, and the balance column), the
same rows `handlers.points.ledger.earn` writes for a fresh member, so the ledger invariant holds:
balance == sum(entries) == sum(lot remaining). `ledger_mismatches` checks it after a run.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import UTC, datetime

from tortoise import Tortoise
from tortoise.transactions import in_transaction

from bench.seed import BATCH_SIZE
from handlers.operators.accounts import create_operator
from handlers.points.lots import expiry_for
from handlers.stores import StoreCreate, create_store
from wxmember.core.clock import Clock
from wxmember.core.config import Config
from wxmember.core.models import Member, Role
from wxmember.core.models.coupons import CouponKind, CouponTemplate, Obtain
from wxmember.core.models.mall import ItemKind, MallItem
from wxmember.core.models.points import EntryKind, PointsEntry, PointsLot
from wxmember.core.prepared import InsertRows

_GRANTS = InsertRows(PointsEntry, skip_taken=True)


async def grant_points(config: Config, members: Sequence[Member], amount: int) -> None:
    """Credit `amount` points to each of these fresh members (balance and debt 0), in bulk."""
    if any(member.points_balance or member.points_debt for member in members):
        raise ValueError("grant_points takes members without points or debt")
    now = datetime.now(UTC)
    expires_at = expiry_for(config, now)
    prefix = f"bench-grant:{secrets.token_hex(4)}:"
    async with in_transaction() as conn:
        await _GRANTS.insert(
            conn,
            [
                {
                    "member_id": member.id,
                    "kind": EntryKind.EARN,
                    "amount": amount,
                    "balance_after": amount,
                    "reason": "bench_grant",
                    "idempotency_key": f"{prefix}{member.id}",
                    "expires_at": expires_at,
                    "created_at": now,
                }
                for member in members
            ],
        )
        entries = await (
            PointsEntry.filter(idempotency_key__startswith=prefix)
            .using_db(conn)
            .values_list("id", "member_id")
        )
        await PointsLot.bulk_create(
            [
                PointsLot(
                    member_id=member_id,
                    entry_id=entry_id,
                    amount=amount,
                    remaining=amount,
                    expires_at=expires_at,
                    created_at=now,
                )
                for entry_id, member_id in entries
            ],
            batch_size=BATCH_SIZE,
            using_db=conn,
        )
        ids = [member.id for member in members]
        for start in range(0, len(ids), BATCH_SIZE):
            chunk = ids[start : start + BATCH_SIZE]
            await Member.filter(id__in=chunk).using_db(conn).update(points_balance=amount)
    for member in members:
        member.points_balance = amount


async def ledger_mismatches() -> int:
    """Members whose balance differs from the sum of their entries or of their lots."""
    conn = Tortoise.get_connection("default")
    _, rows = await conn.execute_query(
        "SELECT COUNT(*) AS n FROM members m"
        " LEFT JOIN (SELECT member_id, SUM(amount) AS s FROM points_entries GROUP BY member_id) e"
        " ON e.member_id = m.id"
        " LEFT JOIN (SELECT member_id, SUM(remaining) AS s FROM points_lots GROUP BY member_id) l"
        " ON l.member_id = m.id"
        " WHERE m.points_balance <> COALESCE(e.s, 0) OR m.points_balance <> COALESCE(l.s, 0)"
    )
    return int(rows[0]["n"])


async def coupon_template(
    title: str, *, stock: int | None, obtain: Obtain = Obtain.CLAIMABLE
) -> CouponTemplate:
    """A cash coupon (¥5 off ¥50, valid 30 days), claimable or issued only, `stock` or unlimited."""
    return await CouponTemplate.create(
        title=title,
        kind=CouponKind.CASH,
        value=500,
        threshold_fen=5000,
        total_stock=stock,
        remaining=stock,
        per_member_limit=1,
        valid_days=30,
        obtain=obtain,
    )


async def coupon_items(count: int, *, stock: int, price: int) -> list[MallItem]:
    """`count` active mall items, each handing over a coupon of its own unlimited template."""
    items = []
    for n in range(count):
        template = await coupon_template(f"商城券{n}", stock=None, obtain=Obtain.ISSUED)
        items.append(
            await MallItem.create(
                title=f"5元券 {n}",
                kind=ItemKind.COUPON,
                coupon_template_id=template.id,
                points_price=price,
                stock=stock,
                display_order=n,
                active=True,
            )
        )
    return items


async def bench_store(code: str = "BENCH01") -> str:
    """A store for the till to name, created by an owner as in the console; its code."""
    owner = await create_operator(
        f"bench-owner-{secrets.token_hex(4)}", secrets.token_urlsafe(16), Role.OWNER
    )
    await create_store(owner, StoreCreate(code=code, name="压测门店"), Clock())
    return code
