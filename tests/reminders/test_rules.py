"""Reminder rules through the admin API: create, list, read, change, delete, validation."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.reminders.kit import rule_fields
from tests.support.http import error_code
from wxmember.core.models import AuditEntry
from wxmember.core.models.reminders import ReminderRule

URL = "/admin/api/v1/reminder-rules"


@pytest.fixture
async def staff(login_as: Any) -> dict[str, str]:
    return await login_as("operator", "op-reminders")


class TestCreate:
    async def test_create_is_audited_and_normalises_the_mapping(
        self, client: TestClient, staff: dict[str, str]
    ) -> None:
        fields = rule_fields(
            mapping={
                "name1": "member_name",
                "thing2": {"field": "tier_name", "truncate": True},
                "thing3": {"text": "生日快乐，礼物已到账"},
            },
            gift={"points": 100},
        )
        response = await client.post(URL, json=fields, headers=staff)
        assert response.status == 201, await response.text()
        body = await response.json()
        assert body["mapping"] == {
            "name1": {"field": "member_name", "truncate": False},
            "thing2": {"field": "tier_name", "truncate": True},
            "thing3": {"text": "生日快乐，礼物已到账"},
        }
        assert body["gift"] == {"points": 100}
        assert body["enabled"] is True and body["version"] == 1
        entry = await AuditEntry.get(action="reminder_rule.create")
        assert entry.actor == "op-reminders"
        assert entry.after is not None
        assert entry.after["template_id"] == "tpl-birthday"

    @pytest.mark.parametrize("kind", ["points_expiring", "coupon_expiring"])
    async def test_each_kind(self, client: TestClient, staff: dict[str, str], kind: str) -> None:
        response = await client.post(URL, json=rule_fields(kind), headers=staff)
        assert response.status == 201, await response.text()
        assert (await response.json())["kind"] == kind

    async def test_official_template_with_old_style_keys(
        self, client: TestClient, staff: dict[str, str]
    ) -> None:
        fields = rule_fields(
            "coupon_expiring",
            channel="official_template",
            mapping={
                "first": {"text": "您有一张优惠券即将到期"},
                "keyword1": "coupon_value",
                "keyword2": "expiry_time",
                "remark": "brand_name",
            },
            page="pages/coupons/index",
        )
        response = await client.post(URL, json=fields, headers=staff)
        assert response.status == 201, await response.text()

    async def test_cashier_may_not(self, client: TestClient, login_as: Any) -> None:
        cashier = await login_as("cashier")
        response = await client.post(URL, json=rule_fields(), headers=cashier)
        assert response.status == 403


def _with(**changes: Any) -> dict[str, Any]:
    return rule_fields("birthday") | changes


INVALID: list[tuple[dict[str, Any], str]] = [
    (_with(name=""), "invalid_name"),
    (_with(kind="anniversary"), "invalid_kind"),
    (_with(send_time="9:00"), "invalid_send_time"),
    (_with(send_time="24:00"), "invalid_send_time"),
    (_with(days_before=31), "invalid_days_before"),
    (_with(days_before=-1), "invalid_days_before"),
    (rule_fields("points_expiring", days_before=0), "invalid_days_before"),
    (rule_fields("coupon_expiring", days_before=61), "invalid_days_before"),
    (_with(channel="sms"), "invalid_channel"),
    (_with(template_id="has space"), "invalid_template_id"),
    (_with(mapping={}), "invalid_mapping"),
    (_with(mapping={"thing1": 5}), "invalid_mapping"),
    (_with(page="/pages with space"), "invalid_page"),
    (_with(channel="official_template", page=None), "page_required"),
    (_with(gift={"points": 0}), "invalid_gift"),
    (_with(gift={}), "invalid_gift"),
    (_with(gift={"points": 10, "coupon_template_id": 1}), "invalid_gift"),
    (_with(gift={"coupon_template_id": 999}), "invalid_gift_coupon_template"),
    (rule_fields("points_expiring", gift={"points": 10}), "gift_not_allowed"),
    (_with(enabled="yes"), "invalid_enabled"),
    (_with(colour="red"), "invalid_colour"),
    # the mapping against WeChat's value rules
    (_with(mapping={"Thing1": "member_name"}), "invalid_mapping_key"),
    (_with(mapping={"keyword1": "member_name"}), "invalid_mapping_key"),
    (_with(mapping={"thing1": "no_such_field"}), "unknown_field"),
    (_with(mapping={"number1": "points"}), "unknown_field"),
    (_with(mapping={"thing1": "gift_name"}), "gift_field_without_gift"),
    (_with(mapping={"phrase1": "member_name"}), "field_type_mismatch"),
    (_with(mapping={"phrase1": "brand_name"}), "field_type_mismatch"),
    (_with(mapping={"number1": "member_name"}), "field_type_mismatch"),
    (_with(mapping={"time1": "birthday"}), "field_type_mismatch"),
    (_with(mapping={"amount1": "days_left"}), "field_type_mismatch"),
    (_with(mapping={"enum1": "notice_phrase"}), "field_type_mismatch"),
    (_with(mapping={"thing1": "tier_name"}), "value_too_long"),
    (
        _with(mapping={"thing1": {"field": "card_no", "truncate": True}, "thing2": "tier_name"}),
        "value_too_long",
    ),
    (rule_fields("coupon_expiring", mapping={"thing1": "coupon_value"}), "value_too_long"),
    (_with(mapping={"phrase1": {"text": "生日快乐呀呀呀"}}), "invalid_text"),
    (_with(mapping={"number1": {"text": "很多"}}), "invalid_text"),
    (
        _with(mapping={"thing1": {"text": "这是一段超过二十个字符的固定文字内容用于测试"}}),
        "invalid_text",
    ),
]


class TestValidation:
    @pytest.mark.parametrize(("fields", "code"), INVALID)
    async def test_refused_with_code(
        self, client: TestClient, staff: dict[str, str], fields: dict[str, Any], code: str
    ) -> None:
        response = await client.post(URL, json=fields, headers=staff)
        assert response.status == 400, await response.text()
        assert await error_code(response) == code
        assert not await ReminderRule.exists()

    async def test_truncation_declared_is_accepted(
        self, client: TestClient, staff: dict[str, str]
    ) -> None:
        fields = _with(mapping={"thing1": {"field": "tier_name", "truncate": True}})
        response = await client.post(URL, json=fields, headers=staff)
        assert response.status == 201

    async def test_error_names_the_key(self, client: TestClient, staff: dict[str, str]) -> None:
        response = await client.post(
            URL, json=_with(mapping={"phrase4": "member_name"}), headers=staff
        )
        assert (await response.json())["error"]["details"] == {"key": "phrase4"}


class TestReadAndList:
    async def test_list_pages_and_hides_deleted(
        self, client: TestClient, staff: dict[str, str]
    ) -> None:
        ids = []
        for n in range(3):
            response = await client.post(URL, json=_with(name=f"规则{n}"), headers=staff)
            ids.append((await response.json())["id"])
        await client.delete(f"{URL}/{ids[1]}", headers=staff)
        first = await (await client.get(f"{URL}?limit=1", headers=staff)).json()
        assert [item["id"] for item in first["items"]] == [ids[0]]
        rest = await (
            await client.get(f"{URL}?limit=5&cursor={first['next_cursor']}", headers=staff)
        ).json()
        assert [item["id"] for item in rest["items"]] == [ids[2]]
        assert rest["next_cursor"] is None

    @pytest.mark.parametrize("path", ["/999", "/abc"])
    async def test_unknown_rule_is_404(
        self, client: TestClient, staff: dict[str, str], path: str
    ) -> None:
        response = await client.get(URL + path, headers=staff)
        assert response.status == 404

    async def test_unknown_rule_code(self, client: TestClient, staff: dict[str, str]) -> None:
        response = await client.get(f"{URL}/999", headers=staff)
        assert await error_code(response) == "reminder_rule_not_found"

    async def test_field_catalogue(self, client: TestClient, staff: dict[str, str]) -> None:
        body = await (await client.get("/admin/api/v1/reminder-fields", headers=staff)).json()
        names = {item["name"]: item for item in body["items"]}
        assert names["points"]["renders"] == "number"
        assert names["member_name"]["max_length"] <= 10


class TestUpdate:
    async def test_patch_checks_the_whole_rule_and_bumps_version(
        self, client: TestClient, staff: dict[str, str]
    ) -> None:
        rule = await (await client.post(URL, json=_with(), headers=staff)).json()
        response = await client.patch(
            f"{URL}/{rule['id']}", json={"send_time": "10:30", "enabled": False}, headers=staff
        )
        assert response.status == 200
        body = await response.json()
        assert (body["send_time"], body["enabled"], body["version"]) == ("10:30", False, 2)
        entry = await AuditEntry.get(action="reminder_rule.update")
        assert entry.before is not None and entry.after is not None
        assert entry.before["send_time"] == "09:00"
        assert entry.after["send_time"] == "10:30"

    async def test_patch_to_an_invalid_rule_is_refused(
        self, client: TestClient, staff: dict[str, str]
    ) -> None:
        rule = await (await client.post(URL, json=_with(), headers=staff)).json()
        response = await client.patch(
            f"{URL}/{rule['id']}",
            json={"channel": "official_template", "page": None},
            headers=staff,
        )
        assert await error_code(response) == "page_required"
        response = await client.patch(
            f"{URL}/{rule['id']}", json={"mapping": {"number1": "member_name"}}, headers=staff
        )
        assert await error_code(response) == "field_type_mismatch"
        unchanged = await (await client.get(f"{URL}/{rule['id']}", headers=staff)).json()
        assert unchanged["version"] == 1

    async def test_gift_can_be_removed(self, client: TestClient, staff: dict[str, str]) -> None:
        rule = await (await client.post(URL, json=_with(gift={"points": 50}), headers=staff)).json()
        response = await client.patch(f"{URL}/{rule['id']}", json={"gift": None}, headers=staff)
        assert (await response.json())["gift"] is None

    async def test_patch_unknown_rule(self, client: TestClient, staff: dict[str, str]) -> None:
        response = await client.patch(f"{URL}/42", json={"enabled": False}, headers=staff)
        assert response.status == 404


class TestDelete:
    async def test_delete_keeps_the_row_and_audits(
        self, client: TestClient, staff: dict[str, str]
    ) -> None:
        rule = await (await client.post(URL, json=_with(), headers=staff)).json()
        response = await client.delete(f"{URL}/{rule['id']}", headers=staff)
        assert response.status == 204
        assert (await client.get(f"{URL}/{rule['id']}", headers=staff)).status == 404
        stored = await ReminderRule.get(id=rule["id"])
        assert stored.deleted_at is not None and stored.enabled is False
        assert await AuditEntry.exists(action="reminder_rule.delete")
        again = await client.delete(f"{URL}/{rule['id']}", headers=staff)
        assert await error_code(again) == "reminder_rule_not_found"
