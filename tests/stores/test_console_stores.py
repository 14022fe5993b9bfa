"""The console's store pages, through the console's HTML routes: the list, creating a store,
a store's page with its figures and members, editing and deactivating it."""

from __future__ import annotations

import re
from typing import Any

from aiohttp.test_utils import TestClient

from handlers import stores
from handlers.operators.accounts import create_operator
from tests.factories import create_member
from tests.stores.kit import bind, make_store
from wxmember.core.models import AuditEntry, Role
from wxmember.core.models.pos import Purchase
from wxmember.core.models.stores import Store

PASSWORD = "correct-horse-battery"


async def console_session(client: TestClient, role: Role = Role.OPERATOR) -> str:
    """Sign a staff member of `role` in to the console; the CSRF token its forms carry."""
    await create_operator(f"{role.value}-web", PASSWORD, role)
    page = await (await client.get("/console/")).text()
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found is not None
    csrf = found.group(1)
    signed = await client.post(
        "/console/signin",
        data={"username": f"{role.value}-web", "password": PASSWORD, "csrf_token": csrf},
        allow_redirects=False,
    )
    assert signed.status == 303, await signed.text()
    return csrf


class TestStorePages:
    async def test_creates_a_store_from_the_list(self, client: TestClient) -> None:
        csrf = await console_session(client)
        form = {"csrf_token": csrf, "code": "SZ-1", "name": "深圳万象城店", "city": "深圳"}
        created = await client.post("/console/stores", data=form | {"active": "1"})
        assert created.status == 200
        assert "深圳万象城店" in await created.text()
        store = await Store.get(code="SZ-1")
        assert (store.city, store.active) == ("深圳", True)
        listed = await (await client.get("/console/stores")).text()
        assert f'href="/console/stores/{store.id}"' in listed

    async def test_a_taken_code_is_said_beside_the_field(self, client: TestClient) -> None:
        csrf = await console_session(client)
        await make_store("SZ-1")
        response = await client.post(
            "/console/stores", data={"csrf_token": csrf, "code": "SZ-1", "name": "x"}
        )
        assert response.status == 409
        assert "已有门店使用这个编码。" in await response.text()

    async def test_the_store_page_shows_figures_and_deactivates(
        self, client: TestClient, login_as: Any
    ) -> None:
        csrf = await console_session(client)
        store = await make_store("SZ-1", name="深圳店")
        member = await create_member()
        headers = await login_as("owner")
        await client.post(
            "/admin/api/v1/pos/purchases",
            json={"member_id": member.id, "order_no": "O-1", "amount_fen": 12_345, "store": "SZ-1"},
            headers=headers,
        )
        assert await Purchase.filter(store="SZ-1").count() == 1
        page = await (await client.get(f"/console/stores/{store.id}?days=7")).text()
        assert "123.45" in page and "qrscene_store_SZ-1" in page
        form = {"csrf_token": csrf, "name": "深圳店", "city": "深圳", "address": ""}
        saved = await client.post(f"/console/stores/{store.id}", data=form)
        assert saved.status == 200
        assert (await Store.get(id=store.id)).active is False
        assert await AuditEntry.exists(action="store.update", target_id=str(store.id))
        refused = await client.post(f"/console/stores/{store.id}/delete", data={"csrf_token": csrf})
        assert refused.status == 409
        assert "不能删除" in await refused.text()

    async def test_cashiers_do_not_reach_the_store_pages(self, client: TestClient) -> None:
        await console_session(client, Role.CASHIER)
        response = await client.get("/console/stores", allow_redirects=False)
        assert response.status in (303, 403)


class TestStaffPageStores:
    async def test_the_owner_binds_a_cashier_to_ticked_stores(self, client: TestClient) -> None:
        csrf = await console_session(client, Role.OWNER)
        cashier = await create_operator("cathy", PASSWORD, Role.CASHIER)
        a, b = await make_store("A"), await make_store("B")
        page = await (await client.get("/console/staff")).text()
        assert f'id="store-{cashier.id}-{a.id}"' in page
        form = [("csrf_token", csrf), ("store_id", str(a.id)), ("store_id", str(b.id))]
        response = await client.post(f"/console/staff/{cashier.id}/stores", data=form)
        assert response.status == 200
        assert "已保存 cathy 的门店。" in await response.text()
        codes = [s.code for s in await stores.bound_stores(cashier.id)]
        assert codes == ["A", "B"]
        await client.post(f"/console/staff/{cashier.id}/stores", data={"csrf_token": csrf})
        assert await stores.bound_stores(cashier.id) == []


class TestTillStore:
    async def test_the_till_records_at_the_chosen_store_and_refuses_another(
        self, client: TestClient
    ) -> None:
        csrf = await console_session(client, Role.CASHIER)
        await make_store("A")
        await make_store("B")
        await make_store("C")
        await bind("cashier-web", "A", "B")
        member = await create_member()
        order = {"csrf_token": csrf, "member_id": str(member.id), "amount": "88.00"}
        unchosen = await client.post("/console/till/purchases", data=order | {"order_no": "T-1"})
        assert "请先选择门店。" in await unchosen.text()
        page = await (await client.get("/console/till")).text()
        assert '<option value="B"' in page and '<option value="C"' not in page
        await client.post("/console/till/store", data={"csrf_token": csrf, "store": "B"})
        done = await client.post("/console/till/purchases", data=order | {"order_no": "T-2"})
        assert done.status == 200
        assert await Purchase.all().values_list("order_no", "store") == [("T-2", "B")]
        await client.post("/console/till/store", data={"csrf_token": csrf, "store": "C"})
        refused = await client.post("/console/till/purchases", data=order | {"order_no": "T-3"})
        assert "您没有绑定这个门店。" in await refused.text()
        assert await Purchase.all().count() == 1


class TestFilteredByStore:
    async def test_the_dashboard_and_the_csv_show_the_chosen_store_only(
        self, client: TestClient, login_as: Any
    ) -> None:
        await console_session(client)
        headers = await login_as("owner")
        a = await make_store("A", name="甲店")
        await make_store("B", name="乙店")
        member = await create_member()
        for n, (code, fen) in enumerate([("A", 10_000), ("A", 2_345), ("B", 99_900)]):
            body = {"member_id": member.id, "order_no": f"O-{n}", "amount_fen": fen, "store": code}
            assert (await client.post("/admin/api/v1/pos/purchases", json=body, headers=headers)).ok
        page = await (await client.get(f"/console/dashboard?days=30&store={a.id}")).text()
        assert "123.45" in page and "999.00" not in page
        assert f"/console/stores/{a.id}/figures.csv?days=30" in page
        export = await client.get(f"/console/stores/{a.id}/figures.csv?days=30")
        assert export.status == 200
        lines = (await export.text()).lstrip("\ufeff").splitlines()
        assert len(lines) == 31
        rows = [line.split(",") for line in lines[1:]]
        assert sum(int(row[2]) for row in rows) == await Purchase.filter(store="A").count()
        assert sum(int(row[3]) for row in rows) == 12_345
