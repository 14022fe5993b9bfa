"""The demo brand's coupons: valid templates, three in the centre, a birthday gift to issue."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from handlers.coupons.templates import FIELDS, check_fields
from tests.coupons.conftest import MemberMaker
from wxmember.core.config import Config
from wxmember.core.context import Services
from wxmember.core.models.coupons import CouponTemplate
from wxmember.demo import seed_coupons, seed_tiers


class TestSeedCoupons:
    async def test_seeds_valid_templates_once(
        self, client: TestClient, config: Config, services: Services, new_member: MemberMaker
    ) -> None:
        await seed_tiers(services)
        await seed_coupons(services)
        await seed_coupons(services)
        templates = await CouponTemplate.all().order_by("id")
        assert [t.title for t in templates] == [
            "满50减10",
            "9折券",
            "赠饮一杯",
            "生日礼券 满100减30",
        ]
        for template in templates:
            await check_fields(services, {name: getattr(template, name) for name in FIELDS})
        _, headers = await new_member()
        centre = await (await client.get("/api/v1/coupons/center", headers=headers)).json()
        reasons = {item["title"]: item["reason"] for item in centre["items"]}
        assert reasons == {"满50减10": None, "9折券": None, "赠饮一杯": "not_eligible"}
