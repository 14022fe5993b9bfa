"""Builders for the points mall tests: members with points, items, coupon templates, requests."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient

from handlers import points
from tests.factories import auth_headers, create_member
from wxmember.core.context import Services
from wxmember.core.models import Member, Tier
from wxmember.core.models.coupons import CouponKind, CouponTemplate, Obtain
from wxmember.core.models.mall import ItemKind, MallCode, MallItem

ADDRESS = {
    "recipient": "李四",
    "phone": "13812345678",
    "region": "上海市 徐汇区",
    "detail": "漕溪北路 88 号 1201 室",
}

_keys = itertools.count(1)


def new_key() -> str:
    """A fresh Idempotency-Key."""
    return f"key-{next(_keys):06d}-test"


@dataclass
class Shopper:
    member: Member
    headers: dict[str, str]

    @property
    def id(self) -> int:
        return self.member.id


class MallKit:
    """Sets up the mall the way operators and the ledger would, and calls the member API."""

    def __init__(self, client: TestClient, services: Services) -> None:
        self.client = client
        self.services = services

    async def shopper(self, points_balance: int = 0, *, level: int = 0) -> Shopper:
        member = await create_member()
        if level:
            tier = await Tier.get_or_none(level=level) or await Tier.create(
                name=f"等级{level}", level=level, growth_threshold=level * 1000
            )
            member.tier = tier
            await member.save(update_fields=["tier_id"])
        if points_balance:
            await points.earn(
                self.services,
                member.id,
                points_balance,
                reason="test grant",
                idempotency_key=f"test-earn:{member.id}",
            )
        return Shopper(member, auth_headers(self.services, member))

    async def coupon_template(self, **fields: Any) -> CouponTemplate:
        values: dict[str, Any] = {
            "title": "满50减10",
            "kind": CouponKind.CASH,
            "value": 1000,
            "threshold_fen": 5000,
            "valid_days": 30,
            "obtain": Obtain.ISSUED,
        } | fields
        return await CouponTemplate.create(**values)

    async def item(self, **fields: Any) -> MallItem:
        values: dict[str, Any] = {
            "title": "随行杯",
            "kind": ItemKind.PHYSICAL,
            "points_price": 100,
            "stock": 100,
            "active": True,
        } | fields
        if values["kind"] == ItemKind.COUPON and "coupon_template_id" not in values:
            values["coupon_template_id"] = (await self.coupon_template()).id
        return await MallItem.create(**values)

    async def virtual_item(self, codes: list[str], **fields: Any) -> MallItem:
        item = await self.item(kind=ItemKind.VIRTUAL, stock=len(codes), **fields)
        await MallCode.bulk_create([MallCode(item_id=item.id, code=code) for code in codes])
        return item

    async def redeem(
        self,
        shopper: Shopper,
        item_id: int,
        *,
        quantity: int = 1,
        key: str | None = None,
        address: dict[str, str] | None = None,
    ) -> ClientResponse:
        body: dict[str, Any] = {"item_id": item_id, "quantity": quantity}
        if address is not None:
            body["address"] = address
        return await self.client.post(
            "/api/v1/mall/redemptions",
            json=body,
            headers=shopper.headers | {"Idempotency-Key": key or new_key()},
        )

    async def redeemed(self, shopper: Shopper, item_id: int, **kwargs: Any) -> dict[str, Any]:
        """Redeem and insist that it worked; the order."""
        response = await self.redeem(shopper, item_id, **kwargs)
        assert response.status == 201, await response.text()
        return await response.json()


async def balance(member_id: int) -> int:
    return (await Member.get(id=member_id)).points_balance
