"""Stores (门店): the shops, the cashiers bound to them, the store a till write records, the
store a member opened their card at, and each store's figures by day."""

from __future__ import annotations

from handlers.stores.cashiers import bind_stores, bindings_of, bound_stores, store_for
from handlers.stores.catalogue import (
    StoreCreate,
    StorePatch,
    all_stores,
    create_store,
    delete_store,
    get_store,
    list_stores,
    store_by_code,
    store_view,
    update_store,
)

__all__ = [
    "StoreCreate",
    "StorePatch",
    "all_stores",
    "bind_stores",
    "bindings_of",
    "bound_stores",
    "create_store",
    "delete_store",
    "get_store",
    "list_stores",
    "store_by_code",
    "store_for",
    "store_view",
    "update_store",
]
