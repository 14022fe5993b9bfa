"""Shared by the store tests: stores made through the handler, cashiers bound to them."""

from __future__ import annotations

from handlers import stores
from handlers.operators.accounts import operator_by_username
from wxmember.core.clock import Clock
from wxmember.core.models import Operator
from wxmember.core.models.stores import Store


async def make_store(code: str, name: str | None = None, **extra: object) -> Store:
    """A store created as an owner would, through `handlers.stores`."""
    data = stores.StoreCreate.model_validate({"code": code, "name": name or f"{code}店"} | extra)
    return await stores.create_store(await _system(), data, Clock())


async def _system() -> Operator:
    from handlers.operators.accounts import create_operator
    from wxmember.core.models import Role

    found = await operator_by_username("store-admin")
    return found or await create_operator("store-admin", "correct-horse-battery", Role.OWNER)


async def bind(username: str, *codes: str) -> None:
    """Bind an existing cashier to these stores."""
    cashier = await operator_by_username(username)
    assert cashier is not None
    ids = [(await stores.store_by_code(code)).id for code in codes]
    await stores.bind_stores(await _system(), cashier.id, ids, Clock())
