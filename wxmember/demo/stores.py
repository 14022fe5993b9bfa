"""The demo's stores (门店): three shops, created by the owner as in the console.

They give the till's store picker, the dashboard's store filter and each store's page something
to show, and the member import something to name (`SH001` in the README's file). Runs once: a
second start finds them.
"""

from __future__ import annotations

from handlers import stores
from wxmember.core.context import Services
from wxmember.core.models.stores import Store
from wxmember.demo.seeds import demo_owner

STORES = (
    ("SH001", "静安店", "上海", "南京西路 1601 号"),
    ("SH002", "徐汇店", "上海", "淮海中路 999 号"),
    ("BJ001", "三里屯店", "北京", "三里屯路 19 号"),
)


async def seed(services: Services) -> None:
    if await Store.exists():
        return
    owner = await demo_owner()
    for code, name, city, address in STORES:
        body = stores.StoreCreate(code=code, name=name, city=city, address=address)
        await stores.create_store(owner, body, services.clock)
