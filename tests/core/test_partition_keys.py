"""`partition_key`: a partitioned table's key by parameter, a date or an aware moment, compared
as the column holds it on both databases."""

from __future__ import annotations

from datetime import datetime, timedelta

from handlers import points
from tests.factories import create_member
from wxmember.core.context import Services
from wxmember.core.models.points import PointsEntry
from wxmember.core.prepared import partition_key, placeholders, read_rows


async def _entries_from(member_id: int, moment: datetime) -> int:
    conn = PointsEntry._meta.db
    key, value = partition_key(conn, PointsEntry, "created_at", moment, 2)
    sql = f'SELECT COUNT(*) FROM "points_entries" WHERE "member_id" = $1 AND "created_at" >= {key}'
    rows = await read_rows(conn, placeholders(conn, sql), [member_id, value])
    return int(rows[0][0])


class TestPartitionKey:
    async def test_an_aware_moment_is_compared_as_the_moment_it_is(
        self, services: Services
    ) -> None:
        member = await create_member()
        entry = await points.earn(services, member.id, 5, reason="gift", idempotency_key="g")
        at = entry.created_at
        # the same moment written in another time zone still finds the entry, a second later not
        elsewhere = at.astimezone(services.config.brand.tz)

        assert await _entries_from(member.id, elsewhere) == 1
        assert await _entries_from(member.id, elsewhere + timedelta(seconds=1)) == 0
