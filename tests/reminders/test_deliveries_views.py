"""What operators see: the preview (equal to what is then sent), deliveries, daily stats."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from handlers.reminders.runs import run_due_reminders
from tests.reminders.kit import MemberMaker, RuleMaker
from tests.support.http import error_code
from wxmember.core.clock import FrozenClock
from wxmember.core.context import Services
from wxmember.core.fake_wechat import FakeWeChat
from wxmember.core.models.bot import Follower

BASE = "/admin/api/v1"


@pytest.fixture
async def staff(login_as: Any) -> dict[str, str]:
    return await login_as("operator", "op-deliveries")


async def get(client: TestClient, path: str, headers: dict[str, str]) -> Any:
    response = await client.get(BASE + path, headers=headers)
    assert response.status == 200, await response.text()
    return await response.json()


class TestPreview:
    async def test_preview_equals_what_is_then_sent(
        self,
        client: TestClient,
        services: Services,
        staff: dict[str, str],
        clock: FrozenClock,
        new_rule: RuleMaker,
        new_member: MemberMaker,
        fake_wechat: FakeWeChat,
    ) -> None:
        rule = await new_rule(
            "birthday",
            gift={"points": 66},
            mapping={
                "name1": "member_name",
                "thing2": "gift_name",
                "thing3": {"field": "tier_name", "truncate": True},
                "date4": "birthday",
            },
        )
        with_grant = [
            await new_member(date(1990, 5, 17), grants={"tpl-birthday": 1}, name=name)
            for name in ("王小明", "Alice")
        ]
        no_grant = await new_member(date(1991, 5, 17))
        body = await get(client, f"/reminder-rules/{rule.id}/preview?date=2026-05-17", staff)
        assert body["date"] == "2026-05-17"
        previews = {item["member_id"]: item for item in body["items"]}
        assert {m.id: previews[m.id]["status"] for m in [*with_grant, no_grant]} == {
            with_grant[0].id: "will_send",
            with_grant[1].id: "will_send",
            no_grant.id: "no_grant",
        }
        assert fake_wechat.sent == []  # the preview sends nothing and spends nothing
        await run_due_reminders(services)
        sent = {message.touser: message.data for message in fake_wechat.sent}
        assert sent == {m.openid: previews[m.id]["data"] for m in with_grant}
        assert with_grant[0].openid is not None
        assert sent[with_grant[0].openid]["thing2"] == "66积分"
        after = await get(client, f"/reminder-rules/{rule.id}/preview?date=2026-05-17", staff)
        assert {item["status"] for item in after["items"]} == {"already_sent", "already_skipped"}

    async def test_official_template_recipients(
        self,
        client: TestClient,
        staff: dict[str, str],
        clock: FrozenClock,
        new_rule: RuleMaker,
        new_member: MemberMaker,
    ) -> None:
        rule = await new_rule(
            "birthday",
            channel="official_template",
            template_id="oa-b",
            mapping={"keyword1": "member_name"},
        )
        follower = await new_member(date(1990, 5, 17), official_openid="oa-f")
        gone = await new_member(date(1990, 5, 17), official_openid="oa-g")
        unlinked = await new_member(date(1990, 5, 17))
        await Follower.create(openid="oa-f", member=follower, subscribed=True)
        await Follower.create(openid="oa-g", member=gone, subscribed=False)
        body = await get(client, f"/reminder-rules/{rule.id}/preview?date=2026-05-17", staff)
        assert {item["member_id"]: item["status"] for item in body["items"]} == {
            follower.id: "will_send",
            gone.id: "unsubscribed",
            unlinked.id: "no_openid",
        }

    @pytest.mark.parametrize(
        ("query", "code"),
        [
            ("date=2026-13-01", "invalid_date"),
            ("limit=0", "invalid_limit"),
            ("cursor=zz", "invalid_cursor"),
        ],
    )
    async def test_bad_query(
        self, client: TestClient, staff: dict[str, str], new_rule: RuleMaker, query: str, code: str
    ) -> None:
        rule = await new_rule("birthday")
        response = await client.get(
            f"{BASE}/reminder-rules/{rule.id}/preview?{query}", headers=staff
        )
        assert response.status == 400
        assert await error_code(response) == code

    async def test_unknown_rule(self, client: TestClient, staff: dict[str, str]) -> None:
        response = await client.get(f"{BASE}/reminder-rules/9/preview", headers=staff)
        assert response.status == 404


class TestDeliveries:
    async def _run(
        self,
        services: Services,
        new_rule: RuleMaker,
        new_member: MemberMaker,
    ) -> tuple[Any, Any]:
        birthday = await new_rule("birthday")
        other = await new_rule("birthday", name="提前一周", days_before=7, template_id="tpl-week")
        await new_member(date(1990, 5, 17), grants={"tpl-birthday": 1})
        await new_member(date(1991, 5, 17))
        await new_member(date(1992, 5, 24), grants={"tpl-week": 1})
        await run_due_reminders(services)
        return birthday, other

    async def test_list_filters_and_pages(
        self,
        client: TestClient,
        services: Services,
        staff: dict[str, str],
        clock: FrozenClock,
        new_rule: RuleMaker,
        new_member: MemberMaker,
    ) -> None:
        birthday, other = await self._run(services, new_rule, new_member)
        everything = await get(client, "/reminder-deliveries", staff)
        assert len(everything["items"]) == 3
        by_rule = await get(client, f"/reminder-deliveries?rule_id={birthday.id}", staff)
        assert {i["rule_id"] for i in by_rule["items"]} == {birthday.id}
        skipped = await get(client, "/reminder-deliveries?state=skipped", staff)
        assert [(i["state"], i["reason"]) for i in skipped["items"]] == [("skipped", "no_grant")]
        assert (await get(client, "/reminder-deliveries?date=2026-05-18", staff))["items"] == []
        page = await get(client, "/reminder-deliveries?limit=2", staff)
        rest = await get(
            client, f"/reminder-deliveries?limit=2&cursor={page['next_cursor']}", staff
        )
        ids = [i["id"] for i in page["items"] + rest["items"]]
        assert ids == sorted(ids, reverse=True) and len(set(ids)) == 3

    async def test_stats_per_rule_per_state(
        self,
        client: TestClient,
        services: Services,
        staff: dict[str, str],
        clock: FrozenClock,
        new_rule: RuleMaker,
        new_member: MemberMaker,
    ) -> None:
        birthday, other = await self._run(services, new_rule, new_member)
        body = await get(client, "/reminder-deliveries/stats?date=2026-05-17", staff)
        stats = {row["rule_id"]: row for row in body["rules"]}
        assert stats[birthday.id]["counts"] == {
            "claimed": 0,
            "sending": 0,
            "sent": 1,
            "skipped": 1,
            "failed": 0,
        }
        assert stats[other.id]["counts"]["sent"] == 1
        assert stats[other.id]["rule_name"] == "提前一周"
        today = await get(client, "/reminder-deliveries/stats", staff)
        assert today["date"] == "2026-05-17"
        assert (await get(client, "/reminder-deliveries/stats?date=2026-05-16", staff))[
            "rules"
        ] == []

    @pytest.mark.parametrize(
        ("query", "code"),
        [
            ("state=lost", "invalid_state"),
            ("date=yesterday", "invalid_date"),
            ("rule_id=x", "invalid_rule_id"),
        ],
    )
    async def test_bad_filters(
        self, client: TestClient, staff: dict[str, str], query: str, code: str
    ) -> None:
        response = await client.get(f"{BASE}/reminder-deliveries?{query}", headers=staff)
        assert response.status == 400
        assert await error_code(response) == code

    async def test_cashier_may_not(self, client: TestClient, login_as: Any) -> None:
        cashier = await login_as("cashier")
        response = await client.get(f"{BASE}/reminder-deliveries", headers=cashier)
        assert response.status == 403
