"""The stores: create, edit, deactivate, delete an unused one, list them.

A store's code is what the till sends, what the Official Account's store QR codes carry
(`qrscene_store_<code>`) and what purchases, refunds and write-offs keep: it is fixed when the
store is created (letters, digits, `_`, `-`, `.`; unique, compared as typed). A store that
anything names (a purchase, refund, write-off, card opening or a bound cashier) is deactivated
rather than deleted (409 `store_in_use`), so every code on record keeps naming its store.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import StringConstraints
from tortoise.backends.base.client import BaseDBAsyncClient

from handlers import audit
from wxmember.core.clock import Clock
from wxmember.core.errors import StoreCodeTaken, StoreInUse, StoreNotFound
from wxmember.core.inputs import Body, CleanText
from wxmember.core.kernel import continue_after, id_fits, insert_once, transaction
from wxmember.core.models import Operator
from wxmember.core.models.coupons import Coupon
from wxmember.core.models.pos import Purchase, PurchaseRefund
from wxmember.core.models.stores import OperatorStore, Store, StoreCardOpening
from wxmember.core.prepared import RowsBy

CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$"

Code = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32, pattern=CODE_PATTERN)
]
Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64), CleanText
]
City = Annotated[str, StringConstraints(strip_whitespace=True, max_length=32), CleanText]
Address = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200), CleanText]


class StoreCreate(Body):
    """A new store: its code (fixed from now on), name, city and address."""

    code: Code
    name: Name
    city: City = ""
    address: Address = ""
    active: bool = True


class StorePatch(Body):
    """What may change on a store (never its code); `active: false` deactivates it."""

    name: Name | None = None
    city: City | None = None
    address: Address | None = None
    active: bool | None = None


def store_view(store: Store) -> dict[str, Any]:
    """A store as staff see it and as the audit log records it."""
    return {
        "id": store.id,
        "code": store.code,
        "name": store.name,
        "city": store.city,
        "address": store.address,
        "active": store.active,
        "created_at": store.created_at.isoformat(),
        "updated_at": store.updated_at.isoformat(),
    }


async def create_store(actor: Operator, data: StoreCreate, clock: Clock) -> Store:
    """Create a store (audited); 409 `store_code_taken` when another has the code."""
    now = clock.now()
    async with transaction() as conn:
        store = await insert_once(
            Store,
            conn,
            code=data.code,
            name=data.name,
            city=data.city,
            address=data.address,
            active=data.active,
            created_at=now,
            updated_at=now,
        )
        if store is None:
            raise StoreCodeTaken()
        await audit.record(
            actor, "store.create", "store", store.id, after=store_view(store), using_db=conn
        )
    return store


async def get_store(store_id: int) -> Store:
    """One store by id; 404 `store_not_found`."""
    store = await Store.get_or_none(id=store_id) if id_fits(Store, store_id) else None
    if store is None:
        raise StoreNotFound()
    return store


_BY_CODE = RowsBy(Store, "code", limit=1)


async def store_by_code(code: str, using_db: BaseDBAsyncClient | None = None) -> Store:
    """One store by its code; 404 `store_not_found`."""
    store = await _BY_CODE.first(using_db, code) if code else None
    if store is None:
        raise StoreNotFound(f"No store has the code {code[:64]!r}.")
    return store


async def update_store(actor: Operator, store_id: int, patch: StorePatch, clock: Clock) -> Store:
    """Rename, move, deactivate or reactivate a store (audited); its code stays."""
    async with transaction() as conn:
        store = await _locked(conn, store_id)
        before = store_view(store)
        changes = {
            name: getattr(patch, name)
            for name in patch.model_fields_set
            if getattr(patch, name) is not None and getattr(patch, name) != getattr(store, name)
        }
        if not changes:
            return store
        changes["updated_at"] = clock.now()
        store.update_from_dict(changes)
        await store.save(using_db=conn, update_fields=list(changes))
        action = "store.update"
        if set(changes) == {"active", "updated_at"}:
            action = "store.activate" if store.active else "store.deactivate"
        await audit.record(
            actor, action, "store", store.id, before=before, after=store_view(store), using_db=conn
        )
    return store


async def _locked(conn: BaseDBAsyncClient, store_id: int) -> Store:
    found = None
    if id_fits(Store, store_id):
        found = await Store.select_for_update().using_db(conn).get_or_none(id=store_id)
    if found is None:
        raise StoreNotFound()
    return found


async def in_use(store: Store, using_db: BaseDBAsyncClient | None = None) -> bool:
    """Whether anything on record names the store (then it is deactivated, not deleted)."""
    checks = (
        Purchase.filter(store=store.code),
        PurchaseRefund.filter(store=store.code),
        Coupon.filter(store=store.code),
        StoreCardOpening.filter(store_id=store.id),
        OperatorStore.filter(store_id=store.id),
    )
    for query in checks:
        if await query.using_db(using_db).exists():
            return True
    return False


async def delete_store(actor: Operator, store_id: int) -> Store:
    """Delete a store nothing names (audited); 409 `store_in_use` otherwise."""
    async with transaction() as conn:
        store = await _locked(conn, store_id)
        if await in_use(store, conn):
            raise StoreInUse()
        await store.delete(using_db=conn)
        await audit.record(
            actor, "store.delete", "store", store_id, before=store_view(store), using_db=conn
        )
    return store


async def list_stores(
    after_id: int | None, limit: int, *, active: bool | None = None
) -> list[Store]:
    """Stores newest first (only active or inactive ones when asked), `limit + 1` rows."""
    query = Store.all().order_by("-id")
    if active is not None:
        query = query.filter(active=active)
    return await continue_after(query, after_id).limit(limit + 1)


async def all_stores(*, active_only: bool = False, limit: int = 1000) -> list[Store]:
    """Every store in code order (for pickers and filters), at most `limit`."""
    query = Store.filter(active=True) if active_only else Store.all()
    return await query.order_by("code").limit(limit)
