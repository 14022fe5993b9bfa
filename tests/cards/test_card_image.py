"""The card image over HTTP: a PNG in the tier's colours, cached per card version, ETag/304."""

from __future__ import annotations

import io
import re
from typing import cast

import pytest
from aiohttp.test_utils import TestClient
from PIL import Image

from cards.face import HEIGHT, WIDTH, hex_to_rgb
from tests.members.flows import ENTRY_COLOR, GOLD_COLOR, cardholder, seed_tiers
from wxmember.core import member_cache
from wxmember.core.context import Services
from wxmember.core.fake_wechat import FakeWeChat
from wxmember.core.models import Member


@pytest.fixture(autouse=True)
async def tiers(client: TestClient) -> None:
    await seed_tiers()


def _dominant(png: bytes, box: tuple[int, int, int, int] | None = None) -> tuple[int, int, int]:
    image = Image.open(io.BytesIO(png)).convert("RGB")
    if box is not None:
        image = image.crop(box)
    # Pillow types an image's colours for any mode; an RGB image's are (r, g, b)
    counted = cast(
        list[tuple[int, tuple[int, int, int]]], image.getcolors(image.width * image.height) or []
    )
    return max(counted)[1]


class TestCardImage:
    async def test_png_in_the_tier_colours(
        self, client: TestClient, fake_wechat: FakeWeChat, services: Services
    ) -> None:
        headers, card = await cardholder(client, fake_wechat)
        response = await client.get("/api/v1/card/image", headers=headers)
        assert response.status == 200
        assert response.content_type == "image/png"
        png = await response.read()
        assert png.startswith(b"\x89PNG\r\n\x1a\n")
        image = Image.open(io.BytesIO(png))
        image.verify()
        assert image.size == (WIDTH, HEIGHT)
        assert _dominant(png) == hex_to_rgb(ENTRY_COLOR)
        assert _dominant(png, (0, 0, WIDTH, 100)) == hex_to_rgb(services.config.brand.primary_color)

        gold = await _gold_tier()
        await Member.filter(card_no=card["card_no"]).update(tier_id=gold)
        member_cache.changed_everyone()  # as every write to members records
        upgraded = await client.get("/api/v1/card/image", headers=headers)
        assert upgraded.headers["ETag"] != response.headers["ETag"]
        assert _dominant(await upgraded.read()) == hex_to_rgb(GOLD_COLOR)

    async def test_etag_and_304(self, client: TestClient, fake_wechat: FakeWeChat) -> None:
        headers, card = await cardholder(client, fake_wechat)
        first = await client.get("/api/v1/card/image", headers=headers)
        etag = first.headers["ETag"]
        assert re.fullmatch(r'"cf[0-9a-f]{30}"', etag)
        assert "no-cache" in first.headers["Cache-Control"]
        same = await client.get("/api/v1/card/image", headers=headers | {"If-None-Match": etag})
        assert same.status == 304
        assert await same.read() == b""
        assert same.headers["ETag"] == etag
        listed = await client.get(
            "/api/v1/card/image", headers=headers | {"If-None-Match": f'"other", W/{etag}'}
        )
        assert listed.status == 304
        other = await client.get(
            "/api/v1/card/image", headers=headers | {"If-None-Match": '"cf-stale"'}
        )
        assert other.status == 200
        assert await other.read() == await first.read()

        await Member.filter(card_no=card["card_no"]).update(tier_id=await _gold_tier())
        member_cache.changed_everyone()  # as every write to members records
        changed = await client.get("/api/v1/card/image", headers=headers | {"If-None-Match": etag})
        assert changed.status == 200
        assert changed.headers["ETag"] != etag

    async def test_cached_in_redis_per_member(
        self, client: TestClient, fake_wechat: FakeWeChat, services: Services
    ) -> None:
        headers, _ = await cardholder(client, fake_wechat)
        member = await Member.get(openid="o-member-1")
        first = await client.get("/api/v1/card/image", headers=headers)
        stored = await services.redis.hgetall(f"wxmember:cardface:{member.id}")
        assert stored[b"png"] == await first.read()
        etag = stored[b"etag"]
        assert isinstance(etag, bytes)
        assert etag.decode() == first.headers["ETag"].strip('"')


async def _gold_tier() -> int:
    from wxmember.core.models import Tier

    return (await Tier.get(level=2)).id
