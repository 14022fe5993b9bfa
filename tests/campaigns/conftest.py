"""Fixtures of the campaign tests: a frozen Shanghai clock, an owner, members in bulk with
subscribe grants, a saved segment and a campaign drafted through the handler."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from handlers.campaigns.definitions import CampaignCreate, create_campaign
from handlers.operators.accounts import create_operator
from tests.factories import entry_tier
from tests.support.localtime import freeze, local
from wxmember.core.clock import FrozenClock
from wxmember.core.context import Services
from wxmember.core.fake_wechat import FakeWeChat
from wxmember.core.inputs import validate
from wxmember.core.models import Member, Operator, Role
from wxmember.core.models.campaigns import Campaign
from wxmember.core.models.coupons import CouponKind, CouponTemplate, Obtain
from wxmember.core.models.saved_segments import SavedSegment
from wxmember.core.models.subscriptions import SubscribeGrant

NOW = local(2026, 5, 17, 9, 0)
TEMPLATE = "tpl-comeback"
MESSAGE = {
    "channel": "miniapp_subscribe",
    "template_id": TEMPLATE,
    "mapping": {"name1": "member_name", "thing2": "coupon_title", "date3": "coupon_expiry"},
    "page": "pages/coupons/index",
}

MembersMaker = Callable[..., Awaitable[list[Member]]]
CampaignMaker = Callable[..., Awaitable[Campaign]]


@pytest.fixture
def settings(settings: dict[str, Any]) -> dict[str, Any]:
    settings["reminders"] = {"sends_per_second": 1000, "batch_size": 200}
    return settings


@pytest.fixture
def clock(services: Services) -> FrozenClock:
    return freeze(services, NOW)


@pytest.fixture
async def owner(client: Any) -> Operator:
    return await create_operator("campaign-owner", "correct-horse-battery", Role.OWNER)


@pytest.fixture
async def coupon_template(client: Any) -> CouponTemplate:
    return await CouponTemplate.create(
        title="回归礼券",
        kind=CouponKind.CASH,
        value=1000,
        threshold_fen=5000,
        obtain=Obtain.ISSUED,
        valid_days=30,
    )


@pytest.fixture
async def everyone(client: Any) -> SavedSegment:
    """A saved segment of every card holder."""
    return await SavedSegment.create(
        name="全部会员", name_key="全部会员", criteria={}, created_at=NOW, updated_at=NOW
    )


@pytest.fixture
def new_members(fake_wechat: FakeWeChat) -> MembersMaker:
    """`count` card holders at once; each with `grants` subscriptions to the campaign's
    template (ours and WeChat's)."""

    async def make(count: int, *, grants: int = 1) -> list[Member]:
        tier = await entry_tier()
        tag = secrets.token_hex(3)
        await Member.bulk_create(
            [
                Member(
                    openid=f"o-{tag}-{n}",
                    name="张三",
                    card_no=f"77{secrets.randbelow(10**14):014d}",
                    code_secret=secrets.token_hex(20),
                    tier=tier,
                    card_opened_at=NOW,
                )
                for n in range(count)
            ]
        )
        members = await Member.filter(openid__startswith=f"o-{tag}-").order_by("id")
        if grants:
            await SubscribeGrant.bulk_create(
                [SubscribeGrant(member=m, template_id=TEMPLATE, remaining=grants) for m in members]
            )
            for member in members:
                assert member.openid is not None
                fake_wechat.grant_subscription(member.openid, TEMPLATE, grants)
        return members

    return make


@pytest.fixture
def new_campaign(
    services: Services, owner: Operator, everyone: SavedSegment, fake_wechat: FakeWeChat
) -> CampaignMaker:
    """A draft made through the handler (to every card holder unless told), its message
    template known to the fake WeChat."""

    async def make(**fields: Any) -> Campaign:
        body = {"name": "回归礼", "segment_id": everyone.id, **fields}
        if body.get("channel") == "miniapp_subscribe":
            fake_wechat.register_subscribe_template(body["template_id"], list(body["mapping"]))
        return await create_campaign(services, owner, validate(CampaignCreate, body))

    return make
