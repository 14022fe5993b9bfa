"""Seeding for the retention evaluation: members over the ladder, their monthly growth, history.

Per member, one growth entry per month with growth, and the month's `member_period_growth` row
equal to it, so `growth_total == sum(growth_entries) == sum(member_period_growth)`. In the
closed period a chosen share of upper-tier members stays below their tier's retention threshold.
Every upper-tier member has the upgrade that brought them there in `tier_changes`; a few were
upgraded after the period closed and are left alone by the evaluation. The expected outcome
is tallied here, independently of the handler, for the check afterwards.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bench.jobs.bulk import Loader, Record
from bench.jobs.ladder import Rung, pick_tier, retention_target
from bench.jobs.people import MEMBER_COLUMNS, MemberFactory
from bench.jobs.progress import say

GROWTH_ENTRY_COLUMNS = tuple("id member_id amount reason idempotency_key period created_at".split())
PERIOD_COLUMNS = ("id", "member_id", "period", "total")
CHANGE_COLUMNS = tuple(
    "id member_id from_tier_id to_tier_id from_name to_name reason growth note created_at".split()
)
RECENT_UPGRADE_SHARE = 0.03
CHUNK = 20_000


@dataclass
class TierSeed:
    """What was seeded and what the evaluation must do with it."""

    by_tier: Counter[str] = field(default_factory=Counter)
    below_retention: int = 0
    checked: int = 0
    skipped: int = 0
    moves: Counter[str] = field(default_factory=Counter)


@dataclass
class _Rows:
    members: list[Record] = field(default_factory=list)
    entries: list[Record] = field(default_factory=list)
    periods: list[Record] = field(default_factory=list)
    changes: list[Record] = field(default_factory=list)
    ids: Counter[str] = field(default_factory=Counter)

    def next_id(self, table: str) -> int:
        self.ids[table] += 1
        return self.ids[table]


class TierSeeder:
    """Builds the rows of `members` members for an evaluation of the year ending `period_end`."""

    def __init__(
        self,
        ladder: Sequence[Rung],
        factory: MemberFactory,
        period_end: date,
        today: date,
        below_share: float,
        max_levels: int,
        tz: ZoneInfo,
    ) -> None:
        self.ladder, self.factory, self.rng = ladder, factory, factory.rng
        self.closed_year, self.today = period_end.year, today
        evaluation_day = period_end + timedelta(days=1)
        self.cutoff = datetime.combine(evaluation_day, time.min, tzinfo=tz).astimezone(UTC)
        self.below_share, self.max_levels = below_share, max_levels
        self.outcome = TierSeed()

    async def seed(self, loader: Loader, members: int) -> TierSeed:
        rows = _Rows()
        for member_id in range(1, members + 1):
            self._member(rows, member_id)
            if member_id % CHUNK == 0 or member_id == members:
                await loader.copy("members", MEMBER_COLUMNS, rows.members)
                await loader.copy("growth_entries", GROWTH_ENTRY_COLUMNS, rows.entries)
                await loader.copy("member_period_growth", PERIOD_COLUMNS, rows.periods)
                await loader.copy("tier_changes", CHANGE_COLUMNS, rows.changes)
                rows.members, rows.entries, rows.periods, rows.changes = [], [], [], []
                if member_id % (10 * CHUNK) == 0:
                    say(f"  {member_id:,} members seeded")
        return self.outcome

    def _member(self, rows: _Rows, member_id: int) -> None:
        deleted, card = self.factory.status()
        index = pick_tier(self.rng, self.ladder) if card else None
        if index is None or deleted:
            tier_id = None if index is None else self.ladder[index].id
            birthday = self.factory.birthday()
            record = self.factory.record(
                member_id, tier_id=tier_id, deleted=deleted, birthday=birthday
            )
            rows.members.append(record)
            return
        rung = self.ladder[index]
        self.outcome.by_tier[rung.name] += 1
        ceiling = self._ceiling(index)
        recent = index > 0 and self.rng.random() < RECENT_UPGRADE_SHARE
        closed = self._closed_growth(index, ceiling)
        if recent:  # this year's growth reached the tier: the upgrade after the period
            current = self.rng.randrange(rung.growth_threshold, ceiling)
        else:
            current = int(self.rng.random() ** 2 * ceiling)
        total = self._growth(rows, member_id, self.closed_year, 12, closed)
        total += self._growth(rows, member_id, self.today.year, self.today.month, current)
        if index > 0:
            self._history(rows, member_id, index, recent)
            self._expect(index, closed, recent)
        birthday = self.factory.birthday()
        record = self.factory.record(
            member_id, tier_id=rung.id, birthday=birthday, growth_total=total
        )
        rows.members.append(record)

    def _ceiling(self, index: int) -> int:
        """Growth below the next tier's threshold: more would have upgraded the member."""
        if index + 1 < len(self.ladder):
            return self.ladder[index + 1].growth_threshold
        return self.ladder[index].growth_threshold * 2

    def _closed_growth(self, index: int, ceiling: int) -> int:
        retention = self.ladder[index].retention_threshold
        if index > 0 and self.rng.random() < self.below_share:
            self.outcome.below_retention += 1
            return self.rng.randrange(0, retention)
        if index == 0:
            return int(self.rng.random() ** 2 * ceiling)
        return self.rng.randrange(retention, ceiling)

    def _growth(self, rows: _Rows, member_id: int, year: int, months: int, amount: int) -> int:
        """Spread `amount` over a few months of `year` (up to month `months`) as entries."""
        if amount <= 0:
            return 0
        rng = self.rng
        count = min(rng.randint(1, 6), months, amount)
        chosen = sorted(rng.sample(range(1, months + 1), count))
        cuts = sorted(rng.sample(range(1, amount), count - 1)) if count > 1 else []
        parts = [b - a for a, b in zip([0, *cuts], [*cuts, amount], strict=True)]
        for month, part in zip(chosen, parts, strict=True):
            period = f"{year:04d}-{month:02d}"
            day = rng.randint(1, 28 if (year, month) != self._now_month else self.today.day)
            at = datetime(year, month, day, 4, rng.randrange(60), tzinfo=UTC)
            key = f"bench-growth:{member_id}:{period}"
            entry_id, period_id = rows.next_id("entries"), rows.next_id("periods")
            rows.entries.append((entry_id, member_id, part, "purchase", key, period, at))
            rows.periods.append((period_id, member_id, period, part))
        return amount

    @property
    def _now_month(self) -> tuple[int, int]:
        return self.today.year, self.today.month

    def _history(self, rows: _Rows, member_id: int, index: int, recent: bool) -> None:
        low, high = self.ladder[index - 1], self.ladder[index]
        days_back = self.rng.randrange(1, 540)
        at = self.cutoff - timedelta(days=days_back)
        if recent:
            at = self.cutoff + timedelta(days=self.rng.randrange(0, max(1, self._days_since())))
        change_id = rows.next_id("changes")
        names = (low.name, high.name)
        row = (change_id, member_id, low.id, high.id, *names, "upgrade", high.growth_threshold)
        rows.changes.append((*row, "", at))

    def _days_since(self) -> int:
        return (self.today - self.cutoff.date()).days

    def _expect(self, index: int, closed: int, recent: bool) -> None:
        if recent:
            self.outcome.skipped += 1
            return
        self.outcome.checked += 1
        target = retention_target(self.ladder, index, closed, self.max_levels)
        if target != index:
            self.outcome.moves[f"{self.ladder[index].name}->{self.ladder[target].name}"] += 1
