"""`member-import`: a file of members moved in from another system, imported, then again.

Writes a CSV of `--members` rows (default 100,000) as another membership system would export
it: card numbers (one row in 50 without, so one is drawn), phones, names, birthdays, tiers of
the demo ladder, points with and without an expiry date, lifetime and current-period growth,
stores, opened dates; one row in 100 has a phone that is not one, and is refused. In the job's
process: `handlers.member_import.import_members` from the file (timed), then the same file
again, which must create nothing. Checks: members created, refused rows reported with their
lines, the points and growth seeded against the file's totals.
"""

from __future__ import annotations

import csv
import tempfile
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from tortoise.expressions import Q
from tortoise.functions import Sum

from bench.jobs.context import Context, Prepared, Sizes, check
from bench.jobs.plans import explain, statement
from handlers.member_import.rows import COLUMNS
from handlers.members.numbers import luhn_check_digit
from handlers.operators.accounts import create_operator
from wxmember.core.models import Member, Role
from wxmember.core.models.member_imports import MemberImportProblem
from wxmember.core.models.stores import Store

DEFAULT_MEMBERS = 100_000
OPERATOR = "bench-import"
STORES = [f"S{n:03d}" for n in range(200)]  # recorded before the file names them
TABLES = ("operators",)


@dataclass(frozen=True)
class ImportSeed:
    """What the file holds: rows, the good ones, their points and growth."""

    path: Path
    rows: int
    good: int
    without_card_no: int
    points: int
    growth: int


def card_number(n: int) -> str:
    body = f"{600_000_000_000_000 + n:015d}"
    return body + luhn_check_digit(body)


def write_file(ctx: Context, path: Path, members: int) -> ImportSeed:
    """The export of the other system, written row by row."""
    good = without = points_total = growth_total = 0
    tiers = [rung.name for rung in ctx.ladder]
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for n in range(1, members + 1):
            bad = n % 100 == 0
            card = "" if n % 50 == 25 else card_number(n)
            points = ctx.rng.randrange(0, 5000)
            lifetime = ctx.rng.randrange(0, 30000)
            period = ctx.rng.randrange(0, lifetime + 1)
            expiry = ctx.today + timedelta(days=ctx.rng.randrange(30, 700))
            birthday = ctx.today.replace(year=ctx.today.year - 30, month=1, day=1) + timedelta(
                days=ctx.rng.randrange(0, 365 * 40)
            )
            opened = ctx.today - timedelta(days=ctx.rng.randrange(1, 3000))
            writer.writerow(
                [
                    card,
                    "x" if bad else f"139{n:08d}",
                    f"会员{n}",
                    min(birthday, ctx.today).isoformat(),
                    ctx.rng.choice(tiers),
                    points,
                    expiry.isoformat() if n % 3 else "",
                    lifetime,
                    period,
                    STORES[n % len(STORES)],
                    opened.isoformat(),
                ]
            )
            if not bad:
                good += 1
                without += card == ""
                points_total += points
                growth_total += lifetime
    return ImportSeed(path, members, good, without, points_total, growth_total)


async def prepare(ctx: Context, sizes: Sizes) -> Prepared:
    members = sizes.members or DEFAULT_MEMBERS
    await create_operator(OPERATOR, "bench-import-password", Role.OPERATOR)
    await Store.bulk_create(
        [Store(code=code, name=code, created_at=ctx.now, updated_at=ctx.now) for code in STORES]
    )
    directory = Path(tempfile.mkdtemp(prefix="wxmember-import-bench-"))
    seed = write_file(ctx, directory / f"members-{members}.csv", members)
    return Prepared(
        parameters={
            "members": members,
            "batch_size": sizes.batch_size,
            "file_bytes": seed.path.stat().st_size,
            "rows_without_card_no": "1 in 50 (a number is drawn)",
            "refused_rows": "1 in 100 (a phone that is not one)",
        },
        seeded={"rows": seed.rows, "good_rows": seed.good, "without_card_no": seed.without_card_no},
        params={"file": str(seed.path), "operator": OPERATOR, "batch_size": sizes.batch_size},
        tables=TABLES,
        state=seed,
        notes=[
            "The job imports the file (measured), then the same file again: every row must be "
            "found unchanged and nothing written but the second import's own record.",
        ],
    )


async def plans(ctx: Context, prepared: Prepared, stage: str) -> list[dict[str, Any]]:
    """The look-up each batch makes: members by card number or phone hash."""
    cards = [card_number(n) for n in range(1, 501)]
    hashes = [f"{n:064x}" for n in range(1, 501)]
    query = Member.filter(Q(card_no__in=cards) | Q(phone_hash__in=hashes)).values_list(
        "id", "card_no", "phone_hash"
    )
    return [await explain(ctx.conn, f"a batch's members, {stage} the import", *statement(query))]


async def verify(ctx: Context, prepared: Prepared, job: dict[str, Any]) -> dict[str, Any]:
    seed: ImportSeed = prepared.state
    first, again = job["result"]["first"], job["result"]["again"]
    totals = (
        await Member.all().annotate(p=Sum("points_balance"), g=Sum("growth_total")).values("p", "g")
    )
    checks = {
        "status": check("finished", first["status"]),
        "rows read": check(seed.rows, first["rows"]),
        "members created": check(seed.good, first["created"]),
        "members in the database": check(seed.good, await Member.all().count()),
        "rows refused": check(seed.rows - seed.good, first["refused"]),
        "refused rows reported": check(
            seed.rows - seed.good,
            await MemberImportProblem.filter(member_import_id=first["id"]).count(),
        ),
        "points balance": check(seed.points, int(totals[0]["p"] or 0)),
        "lifetime growth": check(seed.growth, int(totals[0]["g"] or 0)),
        "created on the second import": check(0, again["created"]),
        "unchanged on the second import": check(seed.good, again["unchanged"]),
    }
    seed.path.unlink(missing_ok=True)
    seed.path.parent.rmdir()
    return checks


def headline(prepared: Prepared, job: dict[str, Any]) -> dict[str, Any]:
    result = job["result"]
    return {
        "rows": prepared.seeded["rows"],
        "import_seconds": result["first_seconds"],
        "rows_per_second": result["rows_per_second"],
        "again_seconds": result["again_seconds"],
        "job_peak_rss_kib": job["job_peak_rss_kib"],
    }
