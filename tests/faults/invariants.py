"""What must hold in the database after any fault, checked for every member at once.

- every member's balance == sum of the ledger == sum of the lots' remaining points, and the
  newest entry carries the balance;
- no template has issued more coupons than its stock, its `claimed` counts its coupons, and
  no member holds more of a template than its per-member limit (the counters agree);
- one check-in per member per local day;
- one reminder delivery per rule, member and occasion.
"""

from __future__ import annotations

from typing import Any

from tortoise import Tortoise

CHECKS: dict[str, str] = {
    "balance == sum(ledger) == sum(lots)": """
        SELECT * FROM (
            SELECT m.id, m.points_balance AS balance,
                COALESCE((SELECT sum(e.amount) FROM points_entries e WHERE e.member_id = m.id), 0)
                    AS ledger,
                COALESCE((SELECT sum(l.remaining) FROM points_lots l WHERE l.member_id = m.id), 0)
                    AS lots
            FROM members m
        ) sums
        WHERE balance <> ledger OR balance <> lots
    """,
    "the newest entry carries the balance": """
        SELECT m.id FROM members m
        JOIN LATERAL (SELECT balance_after FROM points_entries e WHERE e.member_id = m.id
                      ORDER BY e.id DESC LIMIT 1) last ON true
        WHERE last.balance_after <> m.points_balance
    """,
    "coupons issued <= stock, claimed == issued": """
        SELECT t.id, t.total_stock, t.remaining, t.claimed, count(c.id)
        FROM coupon_templates t LEFT JOIN coupons c ON c.template_id = t.id
        GROUP BY t.id
        HAVING (t.total_stock IS NOT NULL AND count(c.id) > t.total_stock)
            OR (t.total_stock IS NOT NULL AND t.remaining <> t.total_stock - count(c.id))
            OR t.claimed <> count(c.id)
    """,
    "per-member limits, counters agree": """
        SELECT c.template_id, c.member_id, count(*), t.per_member_limit, k.count
        FROM coupons c
        JOIN coupon_templates t ON t.id = c.template_id
        LEFT JOIN coupon_claim_counters k
               ON k.template_id = c.template_id AND k.member_id = c.member_id
        WHERE c.source = 'claim'
        GROUP BY c.template_id, c.member_id, t.per_member_limit, k.count
        HAVING count(*) > t.per_member_limit OR count(*) <> COALESCE(k.count, 0)
    """,
    "one check-in per member per day": """
        SELECT member_id, day, count(*) FROM checkins GROUP BY member_id, day HAVING count(*) > 1
    """,
    "one reminder per occasion": """
        SELECT rule_id, member_id, occasion, count(*) FROM reminder_deliveries
        GROUP BY rule_id, member_id, occasion HAVING count(*) > 1
    """,
}


async def broken_invariants() -> dict[str, list[Any]]:
    """Each invariant that does not hold, with the first rows that break it."""
    connection = Tortoise.get_connection("default")
    broken: dict[str, list[Any]] = {}
    for name, sql in CHECKS.items():
        rows = await connection.execute_query_dict(sql + " LIMIT 5")
        if rows:
            broken[name] = rows
    return broken


async def assert_invariants() -> None:
    broken = await broken_invariants()
    assert not broken, broken
