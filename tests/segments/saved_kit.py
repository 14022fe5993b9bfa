"""Card holders with everything a saved segment's filter reads, and a plain Python reference.

`People` writes members, purchases (with refunds as the till's running total), followers,
subscribe grants, tags and RFM rows straight into the tables. `reference` applies a filter
to the same rows with nothing but Python, following the rules handlers/segments/criteria.py
states, so the compiled statement can be compared with it.
"""

from __future__ import annotations

import itertools
import secrets
from datetime import date, datetime, timedelta
from typing import Any

from handlers.segments.criteria import Criteria
from tests.support.localtime import SHANGHAI
from wxmember.core.models.bot import Follower
from wxmember.core.models.members import Member
from wxmember.core.models.pos import Purchase
from wxmember.core.models.segments import MemberRfm
from wxmember.core.models.subscriptions import SubscribeGrant
from wxmember.core.models.tags import MemberTag, Tag
from wxmember.core.models.tiers import Tier

_numbers = itertools.count(1)


class People:
    """Members and what they did, written as a test chooses."""

    async def member(
        self,
        *,
        tier: Tier,
        name: str | None = None,
        birth_month: int | None = 5,
        points: int = 0,
        opened: datetime | None = None,
        card: bool = True,
        deleted: bool = False,
    ) -> Member:
        n = next(_numbers)
        fields: dict[str, Any] = {"openid": f"seg-{n}-{secrets.token_hex(4)}"}
        if card:
            fields |= {
                "name": name or f"会员{n}",
                "birth_month": birth_month,
                "birth_day": 1 if birth_month else None,
                "card_no": f"{7700_0000_0000_0000 + n}",
                "card_opened_at": opened or datetime(2024, 1, 10, 2, tzinfo=SHANGHAI),
                "code_secret": secrets.token_hex(20),
                "tier": tier,
                "points_balance": points,
                "deleted_at": datetime(2025, 6, 1, tzinfo=SHANGHAI) if deleted else None,
            }
        return await Member.create(**fields)

    async def buy(
        self, member: Member, at: datetime, fen: int, *, refunded: int = 0, store: str | None = None
    ) -> Purchase:
        n = next(_numbers)
        return await Purchase.create(
            order_no=f"SEG-{n}-{secrets.token_hex(3)}",
            member_id=member.id,
            amount_fen=fen,
            refunded_fen=refunded,
            store=store,
            created_at=at,
        )

    async def follower(self, member: Member, *, subscribed: bool = True) -> Follower:
        n = next(_numbers)
        return await Follower.create(
            openid=f"oa-{n}-{secrets.token_hex(4)}", member_id=member.id, subscribed=subscribed
        )

    async def grant(self, member: Member, template_id: str, remaining: int = 1) -> None:
        await SubscribeGrant.create(
            member_id=member.id, template_id=template_id, remaining=remaining
        )

    async def tag(self, name: str) -> Tag:
        return await Tag.create(name=name, name_key=name.casefold())

    async def tag_member(self, member: Member, *tags: Tag) -> None:
        for tag in tags:
            await MemberTag.create(member_id=member.id, tag_id=tag.id)

    async def rfm(self, member: Member, segment: str, r: int, f: int, m: int) -> None:
        await MemberRfm.create(
            member_id=member.id,
            segment=segment,
            r_score=r,
            f_score=f,
            m_score=m,
            computed_on=date(2025, 6, 15),
        )


def _midnight(day: date, *, next_day: bool) -> datetime:
    start = day + timedelta(days=1) if next_day else day
    return datetime(start.year, start.month, start.day, tzinfo=SHANGHAI)


def _within(value: int, wanted: Any) -> bool:
    if wanted is None:
        return True
    return (wanted.min is None or value >= wanted.min) and (
        wanted.max is None or value <= wanted.max
    )


async def reference(criteria: Criteria) -> set[int]:
    """The ids of the members the filter selects, judged one by one in Python."""
    purchases: dict[int, list[Purchase]] = {}
    for purchase in await Purchase.all():
        if purchase.amount_fen > purchase.refunded_fen:
            purchases.setdefault(purchase.member_id, []).append(purchase)
    following = {
        f.member_id for f in await Follower.all() if f.subscribed and f.member_id is not None
    }
    grants = {(g.member_id, g.template_id) for g in await SubscribeGrant.all() if g.remaining > 0}
    tags: dict[int, set[int]] = {}
    for link in await MemberTag.all():
        tags.setdefault(link.member_id, set()).add(link.tag_id)
    rfm = {row.member_id: row for row in await MemberRfm.all()}
    chosen = set()
    for member in await Member.all():
        if member.card_no is None or member.deleted_at is not None:
            continue
        c = criteria
        if c.tier_ids and member.tier_id not in c.tier_ids:
            continue
        if not _within(member.points_balance, c.points_balance):
            continue
        if c.birth_months and member.birth_month not in c.birth_months:
            continue
        opened = member.card_opened_at
        if c.card_opened_after and (
            opened is None or opened < _midnight(c.card_opened_after, next_day=True)
        ):
            continue
        if c.card_opened_before and (
            opened is None or opened >= _midnight(c.card_opened_before, next_day=False)
        ):
            continue
        row = rfm.get(member.id)
        if c.rfm_segments or c.r_score or c.f_score or c.m_score:
            if row is None:
                continue
            if c.rfm_segments and row.segment not in {str(s) for s in c.rfm_segments}:
                continue
            scores = ((row.r_score, c.r_score), (row.f_score, c.f_score), (row.m_score, c.m_score))
            if any(w is not None and (s is None or not _within(s, w)) for s, w in scores):
                continue
        bought = purchases.get(member.id, [])
        last = max((p.created_at for p in bought), default=None)
        if c.last_purchase_after and (
            last is None or last < _midnight(c.last_purchase_after, next_day=True)
        ):
            continue
        if c.last_purchase_before and (
            last is None or last >= _midnight(c.last_purchase_before, next_day=False)
        ):
            continue
        if not _within(len(bought), c.purchase_count):
            continue
        net = sum(p.amount_fen - p.refunded_fen for p in bought)
        if not _within(net, c.purchase_amount_fen):
            continue
        if c.stores and not any(p.store in c.stores for p in bought):
            continue
        if c.follows_official_account is not None and c.follows_official_account != (
            member.id in following
        ):
            continue
        if c.subscribe_template_id and (member.id, c.subscribe_template_id) not in grants:
            continue
        carried = tags.get(member.id, set())
        if c.tags_any and not carried & set(c.tags_any):
            continue
        if c.tags_all and not set(c.tags_all) <= carried:
            continue
        if c.tags_none and carried & set(c.tags_none):
            continue
        chosen.add(member.id)
    return chosen
