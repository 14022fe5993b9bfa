"""The demo brand's mall: one item of each kind, seeded once."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from wxmember.core.context import Services
from wxmember.core.models.mall import MallCode, MallItem
from wxmember.demo import SEEDS, seed_mall, seed_tiers


class TestSeedMall:
    async def test_one_item_of_each_kind_once(self, client: TestClient, services: Services) -> None:
        assert SEEDS.index(seed_tiers) < SEEDS.index(seed_mall)  # items name tier levels
        await seed_tiers(services)
        await seed_mall(services)
        await seed_mall(services)
        items: dict[str, MallItem] = {item.kind: item for item in await MallItem.all()}
        assert sorted(items) == ["coupon", "physical", "virtual"]
        assert all(item.active for item in items.values())
        virtual = items["virtual"]
        assert virtual.stock == await MallCode.filter(item_id=virtual.id).count() == 5
        assert items["coupon"].coupon_template_id is not None
