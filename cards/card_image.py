"""The card image of a member: its ETag, the cached PNG, drawing it when needed.

The ETag is a hash of everything printed on the face (member id, card version, card number,
name, tier id, name and colour, the brand's name and colours, the font and the layout version),
so a tier change or a new name gives a new ETag without anyone invalidating anything. Redis
keeps one entry per member (ETag and PNG); when the ETag moved on, the face is drawn again in a
worker process (`services.cpu`) and the entry replaced. Redis only accelerates: if it fails,
the face is drawn anyway.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging

from redis.exceptions import RedisError

from cards.face import RENDER_VERSION, CardFace, render_card_face
from cards.fonts import card_font_path
from handlers.members.cards import card_face_cache_key, tier_of
from handlers.members.numbers import card_face_payload
from wxmember.core.context import Services
from wxmember.core.models import Member, Tier

log = logging.getLogger(__name__)

CACHE_TTL_SECONDS = 7 * 86400
DEFAULT_TIER_COLOR = "#6B7280"


def face_of(services: Services, member: Member, tier: Tier | None) -> CardFace:
    """What the face of this member's card shows; 409 `card_required` before the card."""
    card_no = member.require_card().card_no
    assert card_no is not None  # require_card() passed
    brand = services.config.brand
    return CardFace(
        brand_name=brand.name,
        brand_color=brand.primary_color,
        accent_color=brand.accent_color,
        tier_name=tier.name if tier else "",
        tier_color=tier.color if tier else DEFAULT_TIER_COLOR,
        member_name=member.name or "",
        card_no=card_no,
        qr_payload=card_face_payload(brand.card_qr, card_no),
    )


def etag_of(member: Member, tier: Tier | None, face: CardFace, font_path: str | None) -> str:
    parts = [
        RENDER_VERSION,
        member.id,
        member.card_version,
        tier.id if tier else None,
        repr(face),
        font_path,
    ]
    digest = hashlib.sha256("\x1f".join(str(part) for part in parts).encode()).hexdigest()
    return f"cf{digest[:30]}"


async def _font_path(services: Services) -> str | None:
    # the first call looks at font files on disk; later ones hit the cache
    return await asyncio.to_thread(card_font_path, services.config.brand.font_path)


async def card_image_etag(services: Services, member: Member) -> str:
    """The ETag of the member's current card face (no drawing)."""
    tier = await tier_of(member)
    font_path = await _font_path(services)
    return etag_of(member, tier, face_of(services, member, tier), font_path)


async def card_image_png(services: Services, member: Member) -> tuple[str, bytes]:
    """The member's card face as (ETag, PNG bytes), from the cache or freshly drawn."""
    tier = await tier_of(member)
    font_path = await _font_path(services)
    face = face_of(services, member, tier)
    etag = etag_of(member, tier, face, font_path)
    key = card_face_cache_key(member.id)
    try:
        cached = await services.redis.hmget(key, ["etag", "png"])
    except RedisError:
        log.warning("card image cache unavailable", exc_info=True)
        cached = [None, None]
    stored_etag, stored_png = cached
    if isinstance(stored_etag, bytes) and isinstance(stored_png, bytes) and stored_png:
        if stored_etag.decode() == etag:
            return etag, stored_png
    png = await services.cpu.run(render_card_face, face, font_path)
    try:
        async with services.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping={"etag": etag, "png": png})
            pipe.expire(key, CACHE_TTL_SECONDS)
            await pipe.execute()
    except RedisError:
        log.warning("card image cache unavailable", exc_info=True)
    return etag, png
