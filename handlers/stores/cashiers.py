"""Cashiers bound to stores, and the store a till write records.

A cashier may be bound to one or more stores. A bound cashier acts for its stores only: bound
to one, the till need not send the store (it is that one); bound to several, it must
(400 `store_required`); naming another store is 403 `store_not_allowed`, whether that store
exists or not. Owners, operators and cashiers bound to no store (a brand that has not set its
stores up) may name any active store, or none. A deactivated store records nothing new
(409 `store_inactive`).
"""

from __future__ import annotations

from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from handlers import audit
from handlers.stores.catalogue import store_by_code
from wxmember.core.clock import Clock
from wxmember.core.errors import (
    NotACashier,
    NotFound,
    StoreInactive,
    StoreNotAllowed,
    StoreNotFound,
    StoreRequired,
)
from wxmember.core.kernel import id_fits, transaction
from wxmember.core.models import Operator, Role
from wxmember.core.models.stores import OperatorStore, Store
from wxmember.core.prepared import placeholders, read_rows

MAX_STORES_PER_CASHIER = 200


_BOUND = """
SELECT {columns} FROM "operator_stores" b JOIN "stores" s ON s."id" = b."store_id"
WHERE b."operator_id" = $1 ORDER BY s."code"
"""


async def bound_stores(operator_id: int, using_db: BaseDBAsyncClient | None = None) -> list[Store]:
    """The stores an operator is bound to, in code order (a till's every write asks)."""
    conn = using_db or Store._meta.db
    columns = sorted(Store._meta.db_fields)
    sql = _BOUND.format(columns=", ".join(f's."{column}"' for column in columns))
    rows = await read_rows(conn, placeholders(conn, sql), [operator_id])
    return [Store._init_from_db(**dict(zip(columns, row, strict=True))) for row in rows]


async def bindings_of(operator_ids: list[int]) -> dict[int, list[Store]]:
    """The stores of each of these operators (one query), for staff lists."""
    found: dict[int, list[Store]] = {operator_id: [] for operator_id in operator_ids}
    if not operator_ids:
        return found
    links = (
        await OperatorStore.filter(operator_id__in=operator_ids)
        .select_related("store")
        .order_by("store__code")
    )
    for link in links:
        found[link.operator_id].append(link.store)
    return found


def bindings_view(operator: Operator, stores: list[Store]) -> dict[str, Any]:
    """A cashier's stores as staff see them and the audit log records them."""
    return {
        "operator_id": operator.id,
        "username": operator.username,
        "stores": [
            {"id": s.id, "code": s.code, "name": s.name, "active": s.active} for s in stores
        ],
    }


async def bind_stores(
    actor: Operator, operator_id: int, store_ids: list[int], clock: Clock
) -> tuple[Operator, list[Store]]:
    """Bind a cashier to exactly these stores (audited); an empty list unbinds them all.

    404 `operator_not_found`, 409 `not_a_cashier`, 404 `store_not_found` for an unknown store,
    409 `store_inactive` for a deactivated store the cashier was not bound to yet.
    """
    wanted = sorted(set(store_ids))
    async with transaction() as conn:
        operator = None
        if id_fits(Operator, operator_id):
            query = Operator.select_for_update().using_db(conn)
            operator = await query.get_or_none(id=operator_id)
        if operator is None:
            raise NotFound("No such operator.", code="operator_not_found")
        if Role(operator.role) is not Role.CASHIER:
            raise NotACashier()
        before = await bound_stores(operator.id, conn)
        valid = [store_id for store_id in wanted if id_fits(Store, store_id)]
        stores = await Store.filter(id__in=valid).using_db(conn) if valid else []
        if len(stores) != len(wanted):
            raise StoreNotFound()
        had = {store.id for store in before}
        if any(not store.active and store.id not in had for store in stores):
            raise StoreInactive()
        await (
            OperatorStore.filter(operator_id=operator.id)
            .exclude(store_id__in=wanted or [0])
            .using_db(conn)
            .delete()
        )
        now = clock.now()
        for store in stores:
            if store.id not in had:
                await OperatorStore.create(
                    operator_id=operator.id, store_id=store.id, created_at=now, using_db=conn
                )
        after = await bound_stores(operator.id, conn)
        if [s.id for s in before] != [s.id for s in after]:
            await audit.record(
                actor,
                "operator.stores",
                "operator",
                operator.id,
                before=bindings_view(operator, before),
                after=bindings_view(operator, after),
                using_db=conn,
            )
    return operator, after


async def store_for(
    actor: Operator, code: str | None, using_db: BaseDBAsyncClient | None = None
) -> str | None:
    """The code of the store a till write by `actor` records (module doc), or None."""
    store = None
    if Role(actor.role) is Role.CASHIER:
        bound = {store.code: store for store in await bound_stores(actor.id, using_db)}
        if bound and code is None:
            if len(bound) > 1:
                raise StoreRequired(details={"stores": list(bound)})
            code = next(iter(bound))
        elif bound and code not in bound:
            raise StoreNotAllowed()
        store = bound.get(code) if code is not None else None
    if code is None:
        return None
    store = store or await store_by_code(code, using_db)
    if not store.active:
        raise StoreInactive()
    return store.code
