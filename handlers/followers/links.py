"""Official Account followers and their link to members.

`Member.official_openid` is the link. A follower becomes linked:

- through unionid: the push carries it, or WeChat's user info returns it when the Official
  Account and the mini-program share an Open Platform account; the member with that unionid
  (from the mini-program login) gets the follower's openid;
- through a binding token: the bot hands an unlinked follower a mini-program link carrying a
  one-time token (Redis, 10 minutes, token -> openid); the member who opens it completes the
  binding with `complete_binding`.

A follower is linked to at most one member and a member to at most one follower (both unique),
so a race between two links ends with one of them and nobody else's data is shown.
"""

from __future__ import annotations

import logging
import secrets

from redis.exceptions import RedisError
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from wxmember.core.context import Services
from wxmember.core.errors import CardRequired, Conflict, NotFound
from wxmember.core.kernel import MEMBER_WITH_TIER, insert_once
from wxmember.core.member_cache import changed
from wxmember.core.models import Member
from wxmember.core.models.bot import Follower
from wxmember.core.wechat import WeChatError

log = logging.getLogger(__name__)

BINDING_TTL_SECONDS = 600
UNIONID_RECHECK_SECONDS = 600
_BINDING_KEY = "wxmember:bot:binding:{}"
_UNIONID_CHECK_KEY = "wxmember:bot:unionid-checked:{}"


def follower_alias(openid: str) -> str:
    """The name the member cache knows a follower's member by."""
    return f"official:{openid}"


async def linked_member(openid: str) -> Member | None:
    """The live member linked to this follower, if any (one indexed query)."""
    return await Member.get_or_none(official_openid=openid, deleted_at__isnull=True)


async def get_follower(services: Services, openid: str, *, unionid: str | None = None) -> Follower:
    """The follower row for an openid, created on first sight (a push means they follow)."""
    follower = await Follower.get_or_none(openid=openid)
    if follower is None:
        follower = await insert_once(
            Follower,
            None,
            openid=openid,
            unionid=unionid,
            subscribed=True,
            subscribed_at=services.clock.now(),
        ) or await Follower.get(openid=openid)
    if unionid and follower.unionid != unionid:
        follower.unionid = unionid
        await Follower.filter(id=follower.id).update(unionid=unionid)
    return follower


async def resolve_member(
    services: Services, openid: str, *, unionid: str | None = None
) -> tuple[Follower | None, Member | None]:
    """The follower's member, linking through unionid when possible; the follower if loaded.

    A linked follower's member comes from the member cache (wxmember.core.member_cache) when it
    is current, else from one indexed query. Otherwise the unionid comes from the push, the
    follower row, or WeChat's user info (asked at most every 10 minutes per follower).
    """
    member = await services.members.by_alias(
        follower_alias(openid),
        lambda: linked_member(openid),
        MEMBER_WITH_TIER.get,
        lambda found: found.official_openid == openid and found.deleted_at is None,
    )
    if member is not None:
        return None, member
    follower = await get_follower(services, openid, unionid=unionid)
    return follower, await _link_through_unionid(services, follower, ask_wechat=False)


async def card_holder(
    services: Services, openid: str, *, unionid: str | None = None
) -> tuple[Follower | None, Member]:
    """The card-holding member behind a follower; 409 `card_required` for anyone else."""
    follower, member = await resolve_member(services, openid, unionid=unionid)
    if member is None:
        raise CardRequired("Bind or open a member card first.")
    return follower, member.require_card()


async def _link_through_unionid(
    services: Services, follower: Follower, *, ask_wechat: bool
) -> Member | None:
    unionid = follower.unionid or await _unionid_from_wechat(services, follower, force=ask_wechat)
    if unionid is None:
        return None
    candidate = await Member.filter(unionid=unionid, deleted_at__isnull=True).order_by("id").first()
    return await _link(follower, candidate) if candidate is not None else None


async def _unionid_from_wechat(
    services: Services, follower: Follower, *, force: bool
) -> str | None:
    key = _UNIONID_CHECK_KEY.format(follower.openid)
    try:
        fresh = await services.redis.set(key, b"1", ex=UNIONID_RECHECK_SECONDS, nx=True)
    except RedisError:  # without the reminder, ask: a slower answer beats none
        fresh = True
    if not fresh and not force:
        return None
    try:
        info = await services.official.get_user_info(follower.openid)
    except WeChatError as exc:
        log.warning("follower info unavailable: %s", exc)
        return None
    unionid = info.get("unionid") or None
    follower.unionid = unionid or follower.unionid
    follower.unionid_checked_at = services.clock.now()
    await Follower.filter(id=follower.id).update(
        unionid=follower.unionid, unionid_checked_at=follower.unionid_checked_at
    )
    return unionid


async def _link(follower: Follower, member: Member) -> Member | None:
    """Give the member this follower's openid unless either side is linked already."""
    try:
        async with in_transaction() as conn:
            claimed = (
                await Member.filter(id=member.id, official_openid__isnull=True)
                .using_db(conn)
                .update(official_openid=follower.openid)
            )
            if claimed:
                changed(member.id)
                await Follower.filter(id=follower.id).using_db(conn).update(member_id=member.id)
    except IntegrityError:  # another member took this openid meanwhile
        pass
    return await linked_member(follower.openid)


async def link_member_follower(member: Member) -> Follower | None:
    """After a mini-program login: link the follower sharing the member's unionid, if any."""
    if not member.unionid or member.official_openid:
        return None
    follower = await Follower.filter(unionid=member.unionid).order_by("-id").first()
    linked = await _link(follower, member) if follower is not None else None
    if follower is None or linked is None or linked.id != member.id:
        return None
    member.official_openid = follower.openid
    return follower


async def unlink_member(member_id: int, using_db: BaseDBAsyncClient | None = None) -> None:
    """On account deletion: the member's followers stay as followers, no longer linked."""
    await Follower.filter(member_id=member_id).using_db(using_db).update(member_id=None)


async def create_binding_token(services: Services, openid: str) -> str:
    """A one-time token that lets the member opening it take this follower (10 minutes)."""
    token = secrets.token_urlsafe(18)
    await services.redis.set(_BINDING_KEY.format(token), openid, ex=BINDING_TTL_SECONDS)
    return token


async def complete_binding(services: Services, member: Member, token: str) -> Member:
    """Link the follower behind a binding token to this member; the token works once."""
    raw = await services.redis.getdel(_BINDING_KEY.format(token))
    if raw is None:
        raise NotFound(
            "The binding link has expired or was used; ask the Official Account again.",
            code="binding_not_found",
        )
    openid = raw.decode() if isinstance(raw, bytes) else str(raw)
    if member.official_openid == openid:
        return member
    holder = await linked_member(openid)
    if holder is not None:
        raise Conflict("This WeChat follower is bound to another member.", code="already_bound")
    if member.official_openid:
        raise Conflict(
            "Your membership is bound to another WeChat follower.", code="member_already_bound"
        )
    follower = await get_follower(services, openid)
    if member.unionid and follower.unionid is None:
        await _unionid_from_wechat(services, follower, force=True)
    if follower.unionid and member.unionid and follower.unionid != member.unionid:
        raise Conflict("This binding link belongs to another WeChat user.", code="binding_mismatch")
    linked = await _link(follower, member)
    if linked is None or linked.id != member.id:
        raise Conflict("This WeChat follower is bound to another member.", code="already_bound")
    member.official_openid = openid
    return member


async def record_subscribe(
    services: Services, openid: str, *, unionid: str | None = None, scene: str | None = None
) -> tuple[Follower, Member | None]:
    """A follow (optionally by a parametric QR code): mark the follower and link when possible."""
    follower = await get_follower(services, openid, unionid=unionid)
    member = await linked_member(openid)
    now = services.clock.now()
    changes: dict[str, object] = {"subscribed": True, "subscribed_at": now}
    if scene:
        changes |= {"last_scene": scene[:64], "last_scene_at": now}
    if member is not None:  # linked elsewhere (e.g. at login): keep the mirror right
        changes["member_id"] = member.id
    await Follower.filter(id=follower.id).update(**changes)
    follower.update_from_dict(changes)
    if member is None:
        member = await _link_through_unionid(services, follower, ask_wechat=True)
    return follower, member


async def record_scan(services: Services, openid: str, scene: str) -> Follower:
    """An existing follower scanned a parametric QR code (e.g. a store's)."""
    follower = await get_follower(services, openid)
    now = services.clock.now()
    await Follower.filter(id=follower.id).update(
        last_scene=scene[:64], last_scene_at=now, subscribed=True
    )
    follower.update_from_dict({"last_scene": scene[:64], "last_scene_at": now, "subscribed": True})
    return follower


async def record_unsubscribe(services: Services, openid: str) -> Follower:
    """Unfollowed: the follower is marked; the member and the link stay."""
    follower = await get_follower(services, openid)
    now = services.clock.now()
    await Follower.filter(id=follower.id).update(subscribed=False, unsubscribed_at=now)
    follower.update_from_dict({"subscribed": False, "unsubscribed_at": now})
    return follower
