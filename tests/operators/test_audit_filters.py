"""Reading the audit log by staff member, action and time, a page at a time."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from handlers import audit
from handlers.operators.accounts import create_operator
from wxmember.core.models import AuditEntry, Operator, Role

PASSWORD = "correct-horse-battery"


async def _log(actor: Operator, action: str, at: datetime) -> AuditEntry:
    entry = await audit.record(actor, action, "thing", 1, after={"n": 1})
    await AuditEntry.filter(id=entry.id).update(created_at=at)
    return entry


def _ids(rows: list[AuditEntry]) -> list[int]:
    return [row.id for row in rows]


class TestEntries:
    async def _history(self) -> tuple[Operator, Operator, list[AuditEntry]]:
        ann = await create_operator("ann", PASSWORD, Role.OWNER)
        bo = await create_operator("bo", PASSWORD, Role.OPERATOR)
        rows = [
            await _log(ann, "tier.create", datetime(2026, 5, 1, 2, tzinfo=UTC)),
            await _log(bo, "tier.update", datetime(2026, 5, 2, 2, tzinfo=UTC)),
            await _log(bo, "tier.create", datetime(2026, 5, 3, 2, tzinfo=UTC)),
            await _log(ann, "tier.update", datetime(2026, 5, 4, 2, tzinfo=UTC)),
        ]
        return ann, bo, rows

    async def test_by_staff_member(self, client: Any) -> None:
        ann, bo, rows = await self._history()
        found = await audit.entries(None, 10, operator_id=bo.id)
        assert _ids(found) == [rows[2].id, rows[1].id]

    async def test_by_action_and_staff_member(self, client: Any) -> None:
        ann, bo, rows = await self._history()
        assert _ids(await audit.entries(None, 10, action="tier.update")) == [
            rows[3].id,
            rows[1].id,
        ]
        found = await audit.entries(None, 10, operator_id=ann.id, action="tier.create")
        assert _ids(found) == [rows[0].id]

    async def test_by_time_since_inclusive_until_exclusive(self, client: Any) -> None:
        _, _, rows = await self._history()
        found = await audit.entries(
            None,
            10,
            since=datetime(2026, 5, 2, 2, tzinfo=UTC),
            until=datetime(2026, 5, 4, 2, tzinfo=UTC),
        )
        assert _ids(found) == [rows[2].id, rows[1].id]

    async def test_pages_continue_within_the_filter(self, client: Any) -> None:
        ann, _, rows = await self._history()
        first = await audit.entries(None, 1, operator_id=ann.id)
        assert _ids(first) == [rows[3].id, rows[0].id]  # one more than the page: there is a next
        rest = await audit.entries(first[0].id, 1, operator_id=ann.id)
        assert _ids(rest) == [rows[0].id]

    async def test_actions_lists_each_action_once(self, client: Any) -> None:
        await self._history()
        assert await audit.actions() == ["tier.create", "tier.update"]
