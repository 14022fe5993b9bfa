"""Members holding the card in the fake WeChat's wallet, made as adding the card makes them: the
holder row on our side, the wallet entry at WeChat, and an approved card definition."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from handlers.wallet_card.wallet_sync import SyncSummary, send_due
from tests.factories import create_member
from tests.support.settings import OFFICIAL_APPID
from wxmember.core.context import Services
from wxmember.core.fake_wechat import FakeWeChat
from wxmember.core.fake_wechat.cards import NOT_VERIFIED, VERIFY_OK, FakeCard
from wxmember.core.fake_wechat.wallet import WalletEntry
from wxmember.core.models import Member
from wxmember.core.models.wallet_card import (
    HolderState,
    ReviewState,
    WalletCard,
    WalletCardHolder,
)

CARD_ID = "pWalletSyncCard000000000001"
UPDATE = "/card/membercard/updateuser"
ACTIVATE = "/card/membercard/activate"


@dataclass
class Holding:
    """One member with the card in their wallet."""

    member: Member
    holder: WalletCardHolder
    entry: WalletEntry

    async def row(self) -> WalletCardHolder:
        return await WalletCardHolder.get(id=self.holder.id)


async def define_card(
    services: Services,
    fake: FakeWeChat,
    *,
    approved: bool = True,
    show_points: bool = True,
    show_tier: bool = True,
    show_coupons: bool = True,
) -> WalletCard:
    """The brand's card, created at WeChat (approved unless said otherwise)."""
    status = VERIFY_OK if approved else NOT_VERIFIED
    fake.cards[CARD_ID] = FakeCard(CARD_ID, OFFICIAL_APPID, {}, status=status)
    return await WalletCard.create(
        id=1,
        logo_url="http://mmbiz.qpic.cn/mmbiz_png/logo/0",
        color="Color010",
        title="测试会员卡",
        notice="结账时出示会员码",
        description="积分可在商城兑换礼品。",
        prerogative="会员专享折扣与生日礼。",
        show_points=show_points,
        show_tier=show_tier,
        show_coupons=show_coupons,
        card_id=CARD_ID,
        review_state=ReviewState.APPROVED if approved else ReviewState.SUBMITTED,
        version=1,
        synced_version=1,
        updated_at=services.clock.now(),
    )


async def add_card(services: Services, fake: FakeWeChat, member: Member | None = None) -> Holding:
    """A member (made if not given) adds the card to their wallet: not yet activated."""
    member = member or await create_member()
    assert member.card_no is not None
    now = services.clock.now()
    openid = f"oOfficial-{member.id}"
    holder = await WalletCardHolder.create(
        member=member,
        card_id=CARD_ID,
        code=member.card_no,
        official_openid=openid,
        state=HolderState.HELD,
        attempt_after=now,
        added_at=now,
        updated_at=now,
    )
    entry = WalletEntry(CARD_ID, member.card_no, openid)
    fake.wallet[(CARD_ID, member.card_no)] = entry
    return Holding(member, holder, entry)


async def delete_card(services: Services, fake: FakeWeChat, holding: Holding) -> None:
    """The member deletes the card from their wallet (as the user_del_card event records it)."""
    holding.entry.deleted = True
    now = services.clock.now()
    await WalletCardHolder.filter(id=holding.holder.id).update(
        state=HolderState.DELETED, deleted_at=now, updated_at=now
    )


async def drain(services: Services) -> SyncSummary:
    """One round of the sender, as the scheduled job runs it."""
    return await send_due(services)


def later(services: Services, seconds: float) -> datetime:
    return services.clock.now() + timedelta(seconds=seconds)
