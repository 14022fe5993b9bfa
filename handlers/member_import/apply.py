"""Applying an import file: batch by batch, each batch one transaction, resumable, audited once.

For each row that passed its checks (handlers/member_import/rows.py) the member is looked up by
card number and by phone (its keyed hash):
- nobody: the member is created without a WeChat identity, with the card number given (or a
  fresh one), the tier given, the points balance as one ledger entry (`import:{card_no}:points`,
  a lot expiring on the given day or by the points policy) and the growth seeded so the next
  retention evaluation judges them on it (handlers/tiers/seeding.py);
- a member this file (or an earlier import) created from the same values: nothing to do
  (`unchanged`), so importing a file again changes nothing;
- a member imported from different values: reported as `changed`, never applied;
- the same member on an earlier line of this file: `duplicate`;
- a member who did not come from an import: `card_taken` / `phone_taken`;
- a store code that names no store: `unknown_store`.

Each batch commits with the import's cursor (the last line it covered), its counts and its
refused rows, so an import cut short is resumed by importing the same file again (found by its
SHA-256), from the line after the cursor. The finished import is audited as one
`member.import` entry with its counts.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import F, Q
from tortoise.transactions import in_transaction

from handlers import audit, points
from handlers.member_import.reading import Source, rows_of
from handlers.member_import.rows import ImportRow, RowProblem, columns_of, judge
from handlers.members.member_code import new_code_secret
from handlers.members.numbers import new_card_number
from handlers.stores.attribution import record_imported_openings, store_ids_by_code
from handlers.tiers.growth import entry_tier
from handlers.tiers.seeding import (
    ImportedGrowth,
    ImportedTier,
    record_imported_tiers,
    seed_growth,
)
from wxmember.core.context import Services
from wxmember.core.errors import ValidationFailed
from wxmember.core.localtime import end_of_local_day, local_midnight, local_today
from wxmember.core.models import Member, Operator, Tier
from wxmember.core.models.member_imports import (
    ImportedMember,
    ImportStatus,
    MemberImport,
    MemberImportProblem,
)
from wxmember.core.prepared import InsertRows

BATCH = 500
POINTS_REASON = "import"
COUNTS = ("rows", "created", "unchanged", "changed", "refused")


@dataclass
class _Context:
    services: Services
    record: MemberImport
    columns: dict[str, int]
    ladder: list[Tier]
    stores: dict[str, int]  # store code -> id
    today: date
    now: datetime


@dataclass
class _Batch:
    """What one batch did, added to the import's counts when it commits."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))
    problems: list[RowProblem] = field(default_factory=list)

    def refuse(self, problem: RowProblem) -> None:
        self.problems.append(problem)
        self.counts["changed" if problem.problem == "changed" else "refused"] += 1


async def import_members(
    services: Services, actor: Operator, source: Source, *, batch_size: int = BATCH
) -> MemberImport:
    """Import a file of members (module docstring); resumes an unfinished import of the same
    file. 400 `csv_empty` / `csv_unreadable` / `import_columns_missing` for the whole file."""
    rows = rows_of(source.lines())
    header = next(rows, None)
    if header is None:
        raise ValidationFailed("The file has no rows.", code="csv_empty")
    columns = columns_of(header[1])
    first = next(rows, None)
    if first is None:
        raise ValidationFailed("The file has no members.", code="csv_empty")
    await entry_tier()  # 503 `no_tier_configured` before anything is written
    context = _Context(
        services=services,
        record=await _open_import(services, actor, source),
        columns=columns,
        ladder=list(await Tier.all().order_by("level")),
        stores=await store_ids_by_code(),
        today=local_today(services),
        now=services.clock.now(),
    )
    batch: list[tuple[int, list[str]]] = []
    for line, cells in _chain(first, rows):
        if line <= context.record.cursor:
            continue  # applied before the import was cut short
        batch.append((line, cells))
        if len(batch) >= batch_size:
            await _apply_batch(context, batch)
            batch = []
    if batch:
        await _apply_batch(context, batch)
    return await _finish(actor, context.record, services.clock.now())


def _chain(
    first: tuple[int, list[str]], rest: Iterator[tuple[int, list[str]]]
) -> Iterator[tuple[int, list[str]]]:
    yield first
    yield from rest


async def _open_import(services: Services, actor: Operator, source: Source) -> MemberImport:
    """The unfinished import of this same file, or a new one."""
    unfinished = (
        await MemberImport.filter(file_sha256=source.sha256, status=ImportStatus.RUNNING)
        .order_by("-id")
        .first()
    )
    if unfinished is not None:
        return unfinished
    return await MemberImport.create(
        file_sha256=source.sha256,
        filename=source.filename[:200],
        operator=actor,
        actor=actor.username,
        started_at=services.clock.now(),
    )


async def _apply_batch(context: _Context, lines: list[tuple[int, list[str]]]) -> None:
    record = context.record
    done = _Batch()
    rows: list[ImportRow] = []
    for line, cells in lines:
        judged = judge(line, cells, context.columns, context.ladder, context.today)
        if isinstance(judged, RowProblem):
            done.refuse(judged)
        else:
            rows.append(judged)
    done.counts["rows"] = len(lines)
    async with in_transaction() as conn:
        # The import row serialises two runs of the same import: a batch is applied once.
        locked = await MemberImport.select_for_update().using_db(conn).get(id=record.id)
        if locked.cursor >= lines[-1][0]:
            record.cursor = locked.cursor
            return
        await _apply_rows(context, conn, rows, done)
        if done.problems:
            await MemberImportProblem.bulk_create(
                [
                    MemberImportProblem(
                        member_import_id=record.id,
                        line=problem.line,
                        card_no=problem.card_no,
                        problem=problem.problem,
                        detail=problem.detail[:200],
                    )
                    for problem in done.problems
                ],
                using_db=conn,
            )
        await (
            MemberImport.filter(id=record.id)
            .using_db(conn)
            .update(
                cursor=lines[-1][0],
                **{name: F(name) + value for name, value in done.counts.items()},
            )
        )
    record.cursor = lines[-1][0]
    for name, value in done.counts.items():
        setattr(record, name, getattr(record, name) + value)


@dataclass
class _Known:
    """The members a batch's card numbers and phones already name (and which were imported)."""

    by_card: dict[str, int]
    by_phone: dict[str, int]
    imported: dict[int, tuple[int, int, str]]  # member id -> (import id, line, fingerprint)


async def _known(conn: BaseDBAsyncClient, cards: list[str], hashes: list[str]) -> _Known:
    found = await (
        Member.filter(Q(card_no__in=cards or [""]) | Q(phone_hash__in=hashes or [""]))
        .using_db(conn)
        .values_list("id", "card_no", "phone_hash")
    )
    by_card = {card: member_id for member_id, card, _ in found if card}
    by_phone = {phone: member_id for member_id, _, phone in found if phone}
    imported = await (
        ImportedMember.filter(member_id__in=[row[0] for row in found] or [0])
        .using_db(conn)
        .values_list("member_id", "member_import_id", "line", "fingerprint")
    )
    return _Known(by_card, by_phone, {row[0]: (row[1], row[2], row[3]) for row in imported})


def _verdict(
    row: ImportRow, phone_hash: str, known: _Known, import_id: int
) -> RowProblem | str | None:
    """A problem, "unchanged", or None when the member is new."""
    by_card = known.by_card.get(row.card_no) if row.card_no else None
    by_phone = known.by_phone.get(phone_hash)
    member_id = by_card or by_phone
    if member_id is None:
        return None
    card = row.card_no or ""
    if by_card is not None and by_phone is not None and by_card != by_phone:
        return RowProblem(row.line, card, "phone_taken", "phone")
    imported = known.imported.get(member_id)
    if imported is None:
        taken = "card_taken" if by_card is not None else "phone_taken"
        return RowProblem(row.line, card, taken, taken.removesuffix("_taken"))
    import_id_then, line, fingerprint = imported
    if import_id_then == import_id and line != row.line:
        return RowProblem(row.line, card, "duplicate", f"line {line}")
    if fingerprint != row.fingerprint:
        return RowProblem(row.line, card, "changed", f"import {import_id_then}, line {line}")
    return "unchanged"


async def _apply_rows(
    context: _Context, conn: BaseDBAsyncClient, rows: list[ImportRow], done: _Batch
) -> None:
    cipher = context.services.cipher
    hashes = {row.line: cipher.lookup_hash(row.phone) for row in rows}
    known = await _known(conn, [row.card_no for row in rows if row.card_no], list(hashes.values()))
    new: list[ImportRow] = []
    for row in rows:
        if row.store is not None and row.store not in context.stores:
            done.refuse(RowProblem(row.line, row.card_no or "", "unknown_store", "store"))
            continue
        verdict = _verdict(row, hashes[row.line], known, context.record.id)
        if isinstance(verdict, RowProblem):
            done.refuse(verdict)
            continue
        if verdict == "unchanged":
            done.counts["unchanged"] += 1
            continue
        # Until the batch is written, a new member goes by a stand-in id below zero, so a
        # later line of the batch with the same card number or phone is a `duplicate`.
        stand_in = -1 - len(new)
        new.append(row)
        known.by_phone[hashes[row.line]] = stand_in
        if row.card_no:
            known.by_card[row.card_no] = stand_in
        known.imported[stand_in] = (context.record.id, row.line, row.fingerprint)
    if new:
        await _create_members(context, conn, new, hashes)
        done.counts["created"] += len(new)


async def _free_card_numbers(
    conn: BaseDBAsyncClient, count: int, taken_in_batch: set[str]
) -> list[str]:
    """`count` fresh card numbers, unused by any member and by this batch's rows."""
    numbers: list[str] = []
    while len(numbers) < count:
        drawn = {new_card_number() for _ in range(count - len(numbers))}
        drawn -= taken_in_batch | set(numbers)
        taken = await (
            Member.filter(card_no__in=list(drawn) or [""])
            .using_db(conn)
            .values_list("card_no", flat=True)
        )
        numbers.extend(sorted(drawn - set(taken)))
    return numbers


async def _create_members(
    context: _Context, conn: BaseDBAsyncClient, rows: list[ImportRow], hashes: dict[int, str]
) -> None:
    """The batch's new members, with their import records, points, growth and tier changes:
    one multi-row insert per table."""
    services, tz = context.services, context.services.config.brand.tz
    given = {row.card_no for row in rows if row.card_no}
    fresh = iter(await _free_card_numbers(conn, sum(1 for row in rows if not row.card_no), given))
    cards = {row.line: row.card_no or next(fresh) for row in rows}
    opened = {
        row.line: local_midnight(row.opened_on, tz) if row.opened_on else context.now
        for row in rows
    }
    await _INSERT_MEMBERS.insert(
        conn,
        [
            {
                "openid": None,
                "name": row.name,
                "birthday": row.birthday,
                "birth_month": row.birthday.month if row.birthday else None,
                "birth_day": row.birthday.day if row.birthday else None,
                "phone_enc": services.cipher.encrypt(row.phone),
                "phone_hash": hashes[row.line],
                "card_no": cards[row.line],
                "card_opened_at": opened[row.line],
                "code_secret": new_code_secret(),
                "tier_id": row.tier.id,
            }
            for row in rows
        ],
    )
    ids = dict(
        await Member.filter(card_no__in=list(cards.values()))
        .using_db(conn)
        .values_list("card_no", "id")
    )
    members = [(row, ids[cards[row.line]], cards[row.line]) for row in rows]
    await _INSERT_IMPORTED.insert(
        conn,
        [
            {
                "member_id": member_id,
                "member_import_id": context.record.id,
                "line": row.line,
                "fingerprint": row.fingerprint,
            }
            for row, member_id, _ in members
        ],
    )
    # Rows inserted by this transaction are invisible to every other one until it commits:
    # they are as locked as `lock_member` would make them.
    await points.open_balances(
        services,
        conn,
        [
            points.OpeningBalance(
                member_id=member_id,
                amount=row.points,
                idempotency_key=f"import:{card_no}:points",
                expires_at=(
                    end_of_local_day(row.points_expire_on, tz) if row.points_expire_on else None
                ),
            )
            for row, member_id, card_no in members
            if row.points
        ],
        reason=POINTS_REASON,
        reference=f"member-import:{context.record.id}",
    )
    await seed_growth(
        services,
        conn,
        [
            ImportedGrowth(
                member_id=member_id,
                lifetime=row.growth_total,
                current=row.period_growth,
                key=f"import:{card_no}:growth",
            )
            for row, member_id, card_no in members
        ],
        today=context.today,
        now=context.now,
    )
    await record_imported_tiers(
        conn,
        [ImportedTier(member_id, row.tier, row.period_growth) for row, member_id, _ in members],
        context.now,
    )
    await record_imported_openings(
        conn,
        [
            (member_id, context.stores[row.store], opened[row.line])
            for row, member_id, _ in members
            if row.store is not None
        ],
    )


_INSERT_MEMBERS = InsertRows(Member)
_INSERT_IMPORTED = InsertRows(ImportedMember)


async def _finish(actor: Operator, record: MemberImport, now: datetime) -> MemberImport:
    """Mark the import finished and audit it once, with its counts."""
    async with in_transaction() as conn:
        finished = (
            await MemberImport.filter(id=record.id, status=ImportStatus.RUNNING)
            .using_db(conn)
            .update(status=ImportStatus.FINISHED, finished_at=now)
        )
        fresh = await MemberImport.get(id=record.id, using_db=conn)
        if finished:
            await audit.record(
                actor,
                "member.import",
                "member_import",
                fresh.id,
                after=counts_of(fresh) | {"filename": fresh.filename},
                using_db=conn,
            )
    return fresh


def counts_of(record: MemberImport) -> dict[str, Any]:
    """An import's counts by name."""
    return {name: getattr(record, name) for name in COUNTS}
