"""`/admin/api/v1/stores`: owners and operators create, edit, deactivate and delete stores."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.factories import create_member
from tests.stores.kit import make_store
from tests.support.http import error_code
from wxmember.core.models import AuditEntry
from wxmember.core.models.stores import Store

URL = "/admin/api/v1/stores"
SHOP = {"code": "SH-001", "name": "上海南京西路店", "city": "上海", "address": "南京西路 1 号"}


class TestCreateStore:
    async def test_creates_a_store_and_audits_it(self, client: TestClient, login_as: Any) -> None:
        headers = await login_as("operator", "olga")
        response = await client.post(URL, json=SHOP, headers=headers)
        assert response.status == 201
        body = await response.json()
        assert {k: body[k] for k in SHOP} == SHOP
        assert body["active"] is True
        audit = await AuditEntry.get(action="store.create")
        assert (audit.actor, audit.target_id) == ("olga", str(body["id"]))
        assert audit.after is not None
        assert audit.after["code"] == "SH-001"

    async def test_a_taken_code_is_refused(self, client: TestClient, login_as: Any) -> None:
        headers = await login_as("owner")
        await client.post(URL, json=SHOP, headers=headers)
        again = await client.post(URL, json=SHOP | {"name": "另一家"}, headers=headers)
        assert (again.status, await error_code(again)) == (409, "store_code_taken")
        assert await Store.all().count() == 1

    async def test_two_at_once_with_one_code_make_one_store(
        self, client: TestClient, login_as: Any
    ) -> None:
        headers = await login_as("owner")
        responses = await asyncio.gather(
            *(client.post(URL, json=SHOP | {"name": f"店{n}"}, headers=headers) for n in range(4))
        )
        assert sorted(response.status for response in responses) == [201, 409, 409, 409]
        assert await Store.all().count() == 1
        assert await AuditEntry.filter(action="store.create").count() == 1

    @pytest.mark.parametrize("code", ["", "上海店", "a b", "-lead", "x" * 33])
    async def test_a_code_the_till_cannot_send_is_refused(
        self, client: TestClient, login_as: Any, code: str
    ) -> None:
        headers = await login_as("owner")
        response = await client.post(URL, json=SHOP | {"code": code}, headers=headers)
        assert response.status == 400
        assert await Store.all().count() == 0

    async def test_cashiers_may_not_manage_stores(self, client: TestClient, login_as: Any) -> None:
        headers = await login_as("cashier")
        response = await client.post(URL, json=SHOP, headers=headers)
        assert (response.status, await error_code(response)) == (403, "role_not_allowed")


class TestUpdateStore:
    async def test_edits_and_deactivates_keeping_the_code(
        self, client: TestClient, login_as: Any
    ) -> None:
        headers = await login_as("owner")
        store = await make_store("BJ-1")
        path = f"{URL}/{store.id}"
        edit = {"name": "北京国贸店", "city": "北京"}
        renamed = await client.patch(path, json=edit, headers=headers)
        assert (await renamed.json())["name"] == "北京国贸店"
        off = await (await client.patch(path, json={"active": False}, headers=headers)).json()
        assert (off["code"], off["active"]) == ("BJ-1", False)
        actions = (
            await AuditEntry.filter(target_type="store")
            .order_by("id")
            .values_list("action", flat=True)
        )
        assert actions == ["store.create", "store.update", "store.deactivate"]

    async def test_the_code_cannot_change(self, client: TestClient, login_as: Any) -> None:
        headers = await login_as("owner")
        store = await make_store("BJ-1")
        response = await client.patch(f"{URL}/{store.id}", json={"code": "BJ-2"}, headers=headers)
        assert response.status == 400
        assert (await Store.get(id=store.id)).code == "BJ-1"

    async def test_an_unknown_store_is_404(self, client: TestClient, login_as: Any) -> None:
        headers = await login_as("owner")
        response = await client.patch(f"{URL}/999", json={"name": "x"}, headers=headers)
        assert (response.status, await error_code(response)) == (404, "store_not_found")


class TestDeleteStore:
    async def test_an_unused_store_is_deleted(self, client: TestClient, login_as: Any) -> None:
        headers = await login_as("owner")
        store = await make_store("GZ-1")
        response = await client.delete(f"{URL}/{store.id}", headers=headers)
        assert (response.status, await response.json()) == (200, {"id": store.id, "code": "GZ-1"})
        assert not await Store.exists(id=store.id)
        assert await AuditEntry.exists(action="store.delete", target_id=str(store.id))

    async def test_a_store_with_a_purchase_is_kept(self, client: TestClient, login_as: Any) -> None:
        headers = await login_as("owner")
        store = await make_store("GZ-1")
        member = await create_member()
        bought = await client.post(
            "/admin/api/v1/pos/purchases",
            json={"member_id": member.id, "order_no": "O-1", "amount_fen": 100, "store": "GZ-1"},
            headers=headers,
        )
        assert bought.status == 201
        response = await client.delete(f"{URL}/{store.id}", headers=headers)
        assert (response.status, await error_code(response)) == (409, "store_in_use")
        assert await Store.exists(id=store.id)


class TestListStores:
    async def test_lists_newest_first_and_filters_by_active(
        self, client: TestClient, login_as: Any
    ) -> None:
        headers = await login_as("operator")
        await make_store("A1")
        await make_store("B2", active=False)
        everyone = await (await client.get(URL, headers=headers)).json()
        assert [s["code"] for s in everyone["items"]] == ["B2", "A1"]
        active = await (await client.get(f"{URL}?active=true", headers=headers)).json()
        assert [s["code"] for s in active["items"]] == ["A1"]
