"""Where a member opened their card: the store that brought them, recorded once per member.

Two signs name a store, by the store's code, both as a QR scene `store_<code>` (the bare code
is accepted too):

- the mini-program's launch scene: a store's mini-program code or QR carries the scene, and the
  mini-program sends it with the card opening (`POST /api/v1/card` `{"store_scene"}`);
- the Official Account: a follower who followed or scanned a store's parametric QR code
  (`qrscene_store_<code>` / `SCAN`) has it as their last scene; when the mini-program sends no
  store, that scene counts if it is at most `OFFICIAL_SCENE_DAYS` days old at the opening.

An unknown, deactivated or missing store attributes nothing and never fails the card opening.

A member moved in from another system brings the store from the import file
(`handlers/member_import/`), which must name a store recorded here, deactivated or not.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from tortoise.backends.base.client import BaseDBAsyncClient

from wxmember.core.context import Services
from wxmember.core.kernel import insert_once
from wxmember.core.models import Member
from wxmember.core.models.bot import Follower
from wxmember.core.models.stores import OpeningSource, Store, StoreCardOpening

SCENE_PREFIX = "store_"
OFFICIAL_SCENE_DAYS = 7


def scene_code(scene: str | None) -> str | None:
    """The store code a QR scene names (`store_SH-01` or `SH-01`), or None."""
    if not scene:
        return None
    code = scene.removeprefix(SCENE_PREFIX).strip()
    return code[:64] or None


async def store_of_scene(scene: str | None) -> Store | None:
    """The active store a scene names, if any."""
    code = scene_code(scene)
    if code is None:
        return None
    return await Store.get_or_none(code=code, active=True)


async def _official_store(services: Services, member: Member) -> Store | None:
    follower = await Follower.filter(member_id=member.id).order_by("-last_scene_at").first()
    if follower is None and member.official_openid:
        follower = await Follower.get_or_none(openid=member.official_openid)
    if follower is None or follower.last_scene is None or follower.last_scene_at is None:
        return None
    if services.clock.now() - follower.last_scene_at > timedelta(days=OFFICIAL_SCENE_DAYS):
        return None
    return await store_of_scene(follower.last_scene)


async def attribute_opening(
    services: Services, member: Member, store_scene: str | None = None
) -> StoreCardOpening | None:
    """Record the store a member's card was opened at (module doc); None when none is known
    or it was recorded before."""
    if member.card_no is None:
        return None
    source, store = OpeningSource.MINIAPP_SCENE, await store_of_scene(store_scene)
    if store is None:
        source, store = OpeningSource.OFFICIAL_SCENE, await _official_store(services, member)
    if store is None:
        return None
    return await insert_once(
        StoreCardOpening,
        None,
        member_id=member.id,
        store_id=store.id,
        source=source,
        opened_at=member.card_opened_at or services.clock.now(),
    )


async def store_ids_by_code() -> dict[str, int]:
    """Every store's id by its code, deactivated ones too (an import's history names them)."""
    return dict(await Store.all().values_list("code", "id"))


async def record_imported_openings(
    conn: BaseDBAsyncClient, openings: Sequence[tuple[int, int, datetime]]
) -> None:
    """Members moved in from another system opened their cards at these stores:
    (member id, store id, opened at), the members created in `conn`'s transaction."""
    if openings:
        await StoreCardOpening.bulk_create(
            [
                StoreCardOpening(
                    member_id=member_id,
                    store_id=store_id,
                    source=OpeningSource.IMPORT,
                    opened_at=opened_at,
                )
                for member_id, store_id, opened_at in openings
            ],
            using_db=conn,
        )
