"""Seeding for the dashboard: `history_days` of a large brand's life, up to the seeding moment.

People (COPY, built in Python like the other benchmarks' rows): members open their cards one
after another over the window, in id order; their tiers spread as `ladder.pick_tier`, and every
member above the entry tier has the upgrade that took them there in `tier_changes`; 40 % follow
the Official Account (`bot_followers`, linked), and 5 % of those left again.

Events (`INSERT ... SELECT` over `generate_series`, generated in the server: tens of millions of
rows built in Python and copied would take the better part of an hour): each table is written
in time order, as an append-only table fills, each row by a member whose card was open by then:

- `points_entries` (`ledger` rows): an opening gift of 1,000 points per member when the card
  opens, the rest 78 % earn, 12 % spend, 6 % expire, 4 % adjustments; then every member's
  balance is set to the sum of their entries, which is what the liability is read from.
  `balance_after` and the lots are not kept: the dashboard reads neither;
- `checkins` (30 % of the ledger rows; one per member and day, a clash is dropped),
  `pos_purchases` (25 %), `coupons` (5 %: 80 % claimed, 20 % issued; 40 % used a few days
  later), `mall_orders` (2 %), `reminder_deliveries` (2 %: 60 % sent, 30 % skipped, 10 % failed).

The last part of the window is today (brand time zone), so today's figures are live and real.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import asyncpg

from bench.jobs.bulk import Loader, Record
from bench.jobs.ladder import Rung, pick_tier
from bench.jobs.people import MEMBER_COLUMNS, card_number
from bench.jobs.progress import say
from bench.jobs.seed_birthdays import create_birthday_rule
from wxmember.core.models.coupons import CouponKind, CouponTemplate
from wxmember.core.models.mall import ItemKind, MallItem

OPENING_GIFT = 1000
CHUNK = 20_000
FOLLOWER_COLUMNS = (
    "id openid unionid member_id subscribed subscribed_at unsubscribed_at last_scene"
    " last_scene_at unionid_checked_at created_at updated_at"
).split()
CHANGE_COLUMNS = (
    "id member_id from_tier_id to_tier_id from_name to_name reason growth period_key operator_id"
    " note created_at"
).split()
SHARES = {
    "checkins": 0.30,
    "pos_purchases": 0.25,
    "coupons": 0.05,
    "mall_orders": 0.02,
    "reminder_deliveries": 0.02,
}

# Common to every event statement: $1 start, $2 window in seconds, $3 rows, $4 members.
# Row g happens at `at`, by one of the members whose card had opened by then (they open evenly
# over the window in id order, the first at its start); `h` is a pseudo-random number of the
# row.
_EVENTS = """
WITH g AS (
  SELECT n,
         $1::timestamptz + ((n - 0.5) / $3) * $2 * interval '1 second' AS at,
         greatest(1, floor($4::float8 * (n - 0.5) / $3))::bigint AS opened,
         (n * 2654435761) % 4294967296 AS h
  FROM generate_series(1::bigint, $3::bigint) AS n
), e AS (
  SELECT n, at, h, 1 + h % opened AS member_id, h % 100 AS bucket FROM g
)
"""
_LEDGER = (
    _EVENTS
    + """
, rows AS (
  SELECT member_id,
         CASE WHEN bucket < 78 THEN 'earn' WHEN bucket < 90 THEN 'spend'
              WHEN bucket < 96 THEN 'expire' ELSE 'adjust' END AS kind,
         CASE WHEN bucket < 78 THEN 10 + (h / 100) % 290
              WHEN bucket < 90 THEN -(10 + (h / 100) % 140)
              WHEN bucket < 96 THEN -(5 + (h / 100) % 45)
              ELSE (h / 100) % 100 - 49 END AS amount,
         CASE WHEN bucket < 78 THEN 'purchase' WHEN bucket < 90 THEN 'mall_redemption'
              WHEN bucket < 96 THEN 'expired' ELSE 'operator adjustment' END AS reason,
         'bench:' || n AS key, at
  FROM e
  UNION ALL
  SELECT id, 'earn', $5, 'opening gift', 'bench-gift:' || id, card_opened_at
  FROM members WHERE card_opened_at IS NOT NULL
), registered AS (
  -- each entry registered first, as the service's inserts do (wxmember/core/partitioning.py)
  INSERT INTO points_entry_keys (id, idempotency_key)
  SELECT nextval('points_entries_id_seq'), key FROM rows ORDER BY at
  RETURNING id, idempotency_key
)
INSERT INTO points_entries (id, member_id, kind, amount, balance_after, debt_change, debt_after,
                            reason, reference, idempotency_key, expires_at, created_at)
SELECT r.id, member_id, kind, amount, 0, 0, 0, reason, NULL, key, NULL, at
FROM rows JOIN registered r ON r.idempotency_key = rows.key
ORDER BY at
"""
)
_CHECKINS = (
    _EVENTS
    + """
INSERT INTO checkins (member_id, day, streak, points, bonus_points, made_up, price_points,
                      created_at)
SELECT member_id, (at AT TIME ZONE $5)::date, 1, 5, 0, false, 0, at FROM e
ORDER BY at
ON CONFLICT (member_id, day) DO NOTHING
"""
)
_PURCHASES = (
    _EVENTS
    + """
INSERT INTO pos_purchases (order_no, member_id, amount_fen, store, multiplier_percent, points,
                           growth, refunded_fen, points_taken_back, growth_taken_back,
                           operator_id, created_at)
SELECT 'BENCH-' || n, member_id, 1000 + (h % 500) * 100, NULL, 100, 10 + h % 500,
       10 + h % 500, 0, 0, 0, NULL, at
FROM e ORDER BY at
"""
)
# $5 template ids, $6 now: a used coupon was used within a week, never after now.
_COUPONS = (
    _EVENTS
    + """
INSERT INTO coupons (code, template_id, member_id, source, reason, issue_key, status, valid_from,
                     valid_until, created_at, status_changed_at, used_at, order_no,
                     order_amount_fen, discount_fen, redeemed_by_id)
SELECT 'BC' || lpad(n::text, 14, '0'), ($5::int[])[(1 + n % array_length($5::int[], 1))::int],
       member_id, CASE WHEN bucket < 80 THEN 'claim' ELSE 'issue' END,
       CASE WHEN bucket < 80 THEN '' ELSE 'mall' END, NULL,
       CASE WHEN used THEN 'used' ELSE 'unused' END, at, at + interval '30 days', at,
       CASE WHEN used THEN used_at END, CASE WHEN used THEN used_at END,
       CASE WHEN used THEN 'BENCH-C' || n END, CASE WHEN used THEN 8000 END,
       CASE WHEN used THEN 1000 END, NULL
FROM (
  SELECT e.*, (h / 100) % 100 < 40 AND used_at < $6 AS used
  FROM (SELECT e.*, at + ((h / 10000) % 604800) * interval '1 second' AS used_at FROM e) AS e
) AS c
ORDER BY at
"""
)
# $5 item id, $6 item title.
_ORDERS = (
    _EVENTS
    + """
INSERT INTO mall_orders (member_id, item_id, idempotency_key, request_hash, kind, item_title,
                         quantity, unit_price, points_total, limit_month, state, fulfilment,
                         created_at)
SELECT member_id, $5, 'bench-' || n, 'bench', 'coupon', $6, 1, 500, 500,
       to_char(at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM'), 'completed', '{}'::jsonb, at
FROM e ORDER BY at
"""
)
# $5 rule id, $6 time zone.
_DELIVERIES = (
    _EVENTS
    + """
INSERT INTO reminder_deliveries (rule_id, member_id, occasion, day, channel, template_id,
                                 payload, state, reason, attempts, grant_spent, created_at,
                                 updated_at, finished_at)
SELECT $5, member_id, 'bench:' || n, (at AT TIME ZONE $6)::date, 'miniapp_subscribe', 'bench',
       '{}'::jsonb,
       CASE WHEN bucket < 60 THEN 'sent' WHEN bucket < 90 THEN 'skipped' ELSE 'failed' END,
       CASE WHEN bucket < 60 THEN NULL WHEN bucket < 90 THEN 'no_grant' ELSE 'rejected' END,
       1, bucket < 60, at, at, at
FROM e ORDER BY at
"""
)
_BALANCES = """
UPDATE members SET points_balance = s.total
FROM (SELECT member_id, sum(amount) AS total FROM points_entries GROUP BY member_id) AS s
WHERE members.id = s.member_id
"""


@dataclass
class DashboardSeed:
    """What was seeded, as the checks need it."""

    start: datetime
    members: int = 0
    by_tier: dict[str, int] = field(default_factory=dict)
    followers: int = 0
    unfollowed: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


class DashboardSeeder:
    """Seeds `members` members and `ledger` points entries over `days` days up to `now`."""

    def __init__(
        self, timezone: str, ladder: list[Rung], rng: random.Random, now: datetime, days: int
    ) -> None:
        self.timezone, self.ladder, self.rng, self.now = timezone, ladder, rng, now
        self.start = now - timedelta(days=days)
        self.change_ids = 0
        self.span = (now - self.start).total_seconds()

    def opened_at(self, member_id: int, members: int) -> datetime:
        """Cards open evenly over the window, the first at its very start: no event of the
        window comes before the first member, who opened the first card."""
        return self.start + timedelta(seconds=self.span * (member_id - 1) / members)

    async def seed(
        self, conn: asyncpg.Connection, loader: Loader, members: int, ledger: int
    ) -> DashboardSeed:
        seed = DashboardSeed(self.start)
        await self._people(loader, members, seed)
        await self._events(conn, members, ledger, seed)
        return seed

    async def _people(self, loader: Loader, members: int, seed: DashboardSeed) -> None:
        rows: list[Record] = []
        changes: list[Record] = []
        followers: list[Record] = []
        entry = self.ladder[0]
        for member_id in range(1, members + 1):
            rung = self.ladder[pick_tier(self.rng, self.ladder)]
            opened = self.opened_at(member_id, members)
            follows = self.rng.random() < 0.4
            rows.append(self._member(member_id, rung, opened, follows))
            seed.by_tier[rung.name] = seed.by_tier.get(rung.name, 0) + 1
            if rung.level > entry.level:
                moved = opened + (self.now - opened) * self.rng.random()
                self.change_ids += 1
                changes.append(
                    (self.change_ids, member_id, entry.id, rung.id, entry.name, rung.name)
                    + ("upgrade", rung.growth_threshold, None, None, "", moved)
                )
            if follows:
                followers.append(self._follower(member_id, opened, seed))
            if member_id % CHUNK == 0 or member_id == members:
                await loader.copy("members", MEMBER_COLUMNS, rows)
                await loader.copy("tier_changes", CHANGE_COLUMNS, changes)
                await loader.copy("bot_followers", FOLLOWER_COLUMNS, followers)
                rows, changes, followers = [], [], []
                if member_id % (4 * CHUNK) == 0:
                    say(f"  {member_id:,} members seeded")
        seed.members = members

    def _member(self, member_id: int, rung: Rung, opened: datetime, follows: bool) -> Record:
        birthday = date(1960, 1, 1) + timedelta(days=self.rng.randrange(49 * 365))
        return (
            member_id,
            f"o-bench-{member_id:09d}",
            f"u-bench-{member_id:09d}",
            f"oa-bench-{member_id:09d}" if follows else None,
            1,
            "会员",
            "undisclosed",
            birthday,
            birthday.month,
            birthday.day,
            0,
            card_number(member_id),
            opened,
            1,
            rung.id,
            0,  # set to the sum of the member's entries once they are written
            0,
            rung.growth_threshold,
            opened,
            self.now,
            None,
        )

    def _follower(self, member_id: int, opened: datetime, seed: DashboardSeed) -> Record:
        seed.followers += 1
        followed = opened + timedelta(minutes=1)
        left = None
        if self.rng.random() < 0.05:
            seed.unfollowed += 1
            left = followed + (self.now - followed) * self.rng.random()
        return (
            seed.followers,
            f"oa-bench-{member_id:09d}",
            f"u-bench-{member_id:09d}",
            member_id,
            left is None,
            followed,
            left,
            None,
            None,
            None,
            followed,
            self.now,
        )

    async def _events(
        self, conn: asyncpg.Connection, members: int, ledger: int, seed: DashboardSeed
    ) -> None:
        base = (self.start, self.span)
        templates = await self._templates()
        item = await MallItem.create(
            title="满50减10 优惠券", kind=ItemKind.COUPON, points_price=500, stock=0, active=True
        )
        rule = await create_birthday_rule()
        tz = self.timezone
        gifts = members
        plan: list[tuple[str, str, int, tuple[Any, ...]]] = [
            ("points_entries", _LEDGER, max(0, ledger - gifts), (OPENING_GIFT,)),
            ("checkins", _CHECKINS, int(ledger * SHARES["checkins"]), (tz,)),
            ("pos_purchases", _PURCHASES, int(ledger * SHARES["pos_purchases"]), ()),
            ("coupons", _COUPONS, int(ledger * SHARES["coupons"]), (templates, self.now)),
            ("mall_orders", _ORDERS, int(ledger * SHARES["mall_orders"]), (item.id, item.title)),
            (
                "reminder_deliveries",
                _DELIVERIES,
                int(ledger * SHARES["reminder_deliveries"]),
                (rule.id, tz),
            ),
        ]
        for table, sql, rows, extra in plan:
            say(f"  {table}: {rows:,} rows in the server")
            started = datetime.now()
            await conn.execute(sql, *base, rows, members, *extra)
            seed.seconds[table] = round((datetime.now() - started).total_seconds(), 2)
        say("  balances: the sum of each member's entries")
        await conn.execute(_BALANCES)

    async def _templates(self) -> list[int]:
        made = []
        for title, kind, value in (
            ("满50减10", CouponKind.CASH, 1000),
            ("9折券", CouponKind.DISCOUNT, 10),
            ("生日礼券", CouponKind.CASH, 3000),
        ):
            template = await CouponTemplate.create(
                title=title, kind=kind, value=value, valid_days=30, per_member_limit=5
            )
            made.append(template.id)
        return made
