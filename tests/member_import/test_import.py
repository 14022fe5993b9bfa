"""Importing members: created with card, points, tier and growth, in batches, idempotent,
resumable, changed rows reported, audited once."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest

from handlers.member_import import apply as applying
from handlers.member_import.report import problems_csv
from handlers.points.lots import expiry_for
from tests.factories import create_member, entry_tier
from tests.member_import.kit import NOW, card, file_of, phone, row, run, staff
from tests.support.localtime import freeze
from wxmember.core.context import Services
from wxmember.core.errors import ValidationFailed
from wxmember.core.models import AuditEntry, Member, Tier
from wxmember.core.models.growth import GrowthEntry, MemberPeriodGrowth
from wxmember.core.models.member_imports import (
    ImportedMember,
    ImportStatus,
    MemberImport,
    MemberImportProblem,
)
from wxmember.core.models.points import PointsEntry, PointsLot
from wxmember.core.models.stores import OpeningSource, StoreCardOpening
from wxmember.core.models.tier_history import TierChange


@pytest.fixture(autouse=True)
async def ladder(services: Services) -> Tier:
    freeze(services, NOW)
    await entry_tier()
    return await Tier.create(
        name="金卡会员", level=2, color="#D4A017", growth_threshold=5000, retention_threshold=4000
    )


class Interrupted(Exception):
    """Stands for the process dying between two batches."""


class TestImportMembers:
    async def test_creates_members_with_card_points_tier_growth_and_store(
        self, services: Services
    ) -> None:
        olga = await staff()
        text = file_of(
            row(
                1,
                tier="金卡会员",
                points=800,
                points_expire_on="2026-03-31",
                growth_total=9000,
                period_growth=4200,
            ),
        )
        record = await run(services, olga, text)
        assert (record.status, record.rows, record.created, record.refused) == (
            ImportStatus.FINISHED,
            1,
            1,
            0,
        )
        member = await Member.get(card_no=card(1)).prefetch_related("tier")
        assert member.openid is None
        assert member.tier is not None
        assert (member.name, member.tier.name) == ("会员1", "金卡会员")
        opening = await StoreCardOpening.get(member_id=member.id).prefetch_related("store")
        assert (opening.store.code, opening.source, opening.opened_at) == (
            "SH001",
            OpeningSource.IMPORT,
            member.card_opened_at,
        )
        assert member.phone_hash == services.cipher.lookup_hash(phone(1))
        assert services.cipher.decrypt(member.phone_enc or "") == phone(1)
        assert member.card_opened_at == datetime(2020, 2, 29, 16, 0, tzinfo=UTC)
        assert (member.points_balance, member.growth_total) == (800, 9000)
        entry = await PointsEntry.get(member_id=member.id)
        assert (entry.idempotency_key, entry.reason) == (f"import:{card(1)}:points", "import")
        lot = await PointsLot.get(member_id=member.id)
        assert lot.expires_at == datetime(2026, 3, 31, 15, 59, 59, tzinfo=UTC)
        buckets = dict(
            await MemberPeriodGrowth.filter(member_id=member.id).values_list("period", "total")
        )
        assert buckets == {"2025-06": 4200, "2024-12": 4800}
        change = await TierChange.get(member_id=member.id)
        assert (change.reason, change.to_name) == ("import", "金卡会员")
        assert await ImportedMember.filter(member_id=member.id, line=2).exists()

    async def test_points_without_an_expiry_follow_the_points_policy(
        self, services: Services
    ) -> None:
        await run(services, await staff(), file_of(row(1, points=50)))
        lot = await PointsLot.get(member__card_no=card(1))
        assert lot.expires_at > NOW

    async def test_a_member_without_a_card_number_gets_one(self, services: Services) -> None:
        await run(services, await staff(), file_of(row(1, card_no="")))
        member = await Member.get(phone_hash=services.cipher.lookup_hash(phone(1)))
        assert member.card_no is not None and len(member.card_no) == 16

    async def test_bad_rows_are_reported_with_line_numbers_and_reasons(
        self, services: Services
    ) -> None:
        olga = await staff()
        native = await create_member()
        native.phone_hash = services.cipher.lookup_hash(phone(9))
        native.card_no = card(50)
        await native.save(update_fields=["phone_hash", "card_no"])
        text = file_of(
            row(1),
            row(2, phone="12"),
            "",
            row(3, tier="铂金"),
            row(1, name="别名"),
            row(4, card_no=native.card_no),
            row(9),
            row(5, store="NO-SUCH"),
        )
        record = await run(services, olga, text)
        assert (record.rows, record.created, record.refused) == (7, 1, 6)
        problems = await MemberImportProblem.filter(member_import_id=record.id).order_by("line")
        assert [(p.line, p.problem) for p in problems] == [
            (3, "invalid_phone"),
            (5, "unknown_tier"),
            (6, "duplicate"),
            (7, "card_taken"),
            (8, "phone_taken"),
            (9, "unknown_store"),
        ]
        assert problems[2].detail == "line 2"
        report = await problems_csv(record)
        assert report.startswith("\ufeff")
        lines = list(csv.reader(io.StringIO(report.removeprefix("\ufeff"))))
        assert lines[0] == ["line", "card_no", "problem", "detail"]
        assert lines[1] == ["3", card(2), "invalid_phone", "phone"]
        assert len(lines) == 7

    async def test_importing_the_same_file_again_changes_nothing(self, services: Services) -> None:
        olga = await staff()
        text = file_of(*(row(n) for n in range(1, 6)), row(6, card_no=""))
        first = await run(services, olga, text)

        async def state() -> list[object]:
            return [
                await Member.all()
                .order_by("id")
                .values_list("id", "card_no", "points_balance", "growth_total", "tier_id"),
                await PointsEntry.all().count(),
                await GrowthEntry.all().count(),
                await MemberPeriodGrowth.all().order_by("id").values_list("total", flat=True),
                await TierChange.all().count(),
            ]

        before = await state()
        again = await run(services, olga, text)
        assert (first.created, again.created, again.unchanged, again.changed) == (6, 0, 6, 0)
        assert again.id != first.id
        assert await state() == before

    async def test_a_changed_row_is_reported_not_applied(self, services: Services) -> None:
        olga = await staff()
        await run(services, olga, file_of(row(1), row(2)))
        record = await run(services, olga, file_of(row(1, points=999), row(2)))
        assert (record.created, record.unchanged, record.changed) == (0, 1, 1)
        problem = await MemberImportProblem.get(member_import_id=record.id)
        assert (problem.line, problem.problem) == (2, "changed")
        assert (await Member.get(card_no=card(1))).points_balance == 120

    async def test_rows_are_applied_in_batches(
        self, services: Services, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        record = await run(
            services, await staff(), file_of(*(row(n) for n in range(1, 8))), batch_size=3
        )
        assert (record.created, record.cursor) == (7, 8)
        assert await Member.filter(openid=None).count() == 7

    async def test_an_interrupted_import_resumes_after_its_last_batch(
        self, services: Services, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        olga = await staff()
        text = file_of(*(row(n) for n in range(1, 8)), row(8, phone="x"))
        real = applying._apply_batch
        batches = 0

        async def crashing(context: applying._Context, lines: list) -> None:
            nonlocal batches
            batches += 1
            if batches == 2:
                raise Interrupted()
            await real(context, lines)

        monkeypatch.setattr(applying, "_apply_batch", crashing)
        with pytest.raises(Interrupted):
            await run(services, olga, text, batch_size=3)
        assert await Member.filter(openid=None).count() == 3
        monkeypatch.setattr(applying, "_apply_batch", real)
        record = await run(services, olga, text, batch_size=3)
        assert await MemberImport.all().count() == 1
        assert (record.status, record.rows, record.created, record.unchanged) == (
            ImportStatus.FINISHED,
            8,
            7,
            0,
        )
        assert record.refused == 1

    async def test_the_import_is_audited_once_with_its_counts(self, services: Services) -> None:
        olga = await staff()
        record = await run(services, olga, file_of(row(1), row(2, phone="")), batch_size=1)
        entry = await AuditEntry.get(action="member.import")
        assert (entry.target_type, entry.target_id, entry.actor) == (
            "member_import",
            str(record.id),
            "olga",
        )
        assert entry.after == {
            "rows": 2,
            "created": 1,
            "unchanged": 0,
            "changed": 0,
            "refused": 1,
            "filename": "会员.csv",
        }

    async def test_each_member_of_a_batch_gets_exactly_their_own_ledger_lots_and_growth(
        self, services: Services
    ) -> None:
        text = file_of(
            row(
                1, points=800, points_expire_on="2026-03-31", growth_total=9000, period_growth=4200
            ),
            row(2, points=0, growth_total=0, period_growth=0),
            row(3, card_no="", points=35, growth_total=70, period_growth=70),
            row(4, points=1, growth_total=10, period_growth=0, tier="金卡会员"),
        )
        record = await run(services, await staff(), text)
        assert record.created == 4
        gold = await Tier.get(name="金卡会员")
        policy = expiry_for(services.config, NOW)
        end_of_march = datetime(2026, 3, 31, 15, 59, 59, tzinfo=UTC)
        members = {
            imported.line: await Member.get(id=imported.member_id)
            for imported in await ImportedMember.filter(member_import_id=record.id)
        }
        expected = {  # line: balance, lot expiry, growth total, buckets, growth keys, tier
            2: (800, end_of_march, 9000, {"2025-06": 4200, "2024-12": 4800}, None),
            3: (0, None, 0, {}, None),
            4: (35, policy, 70, {"2025-06": 70}, None),
            5: (1, policy, 10, {"2024-12": 10}, gold.id),
        }
        entry_tier_id = (await Tier.all().order_by("level").first()).id  # type: ignore[union-attr]
        for line, (balance, expiry, growth, buckets, tier_id) in expected.items():
            member = members[line]
            card_no = member.card_no
            entries = await PointsEntry.filter(member_id=member.id).values_list(
                "idempotency_key", "kind", "amount", "balance_after", "debt_after", "expires_at"
            )
            lots = await PointsLot.filter(member_id=member.id).values_list(
                "entry__idempotency_key", "amount", "remaining", "expires_at"
            )
            key = f"import:{card_no}:points"
            if balance:
                assert entries == [(key, "earn", balance, balance, 0, expiry)]
                assert lots == [(key, balance, balance, expiry)]
            else:
                assert (entries, lots) == ([], [])
            assert (member.points_balance, member.points_debt) == (balance, 0)
            growth_entries = await GrowthEntry.filter(member_id=member.id).values_list(
                "idempotency_key", "period", "amount"
            )
            keys = {"2025-06": "period", "2024-12": "earlier"}
            assert sorted(growth_entries) == sorted(
                (f"import:{card_no}:growth:{keys[month]}", month, amount)
                for month, amount in buckets.items()
            )
            assert member.growth_total == growth
            assert (
                dict(
                    await MemberPeriodGrowth.filter(member_id=member.id).values_list(
                        "period", "total"
                    )
                )
                == buckets
            )
            assert member.tier_id == (tier_id or entry_tier_id)
            changes = await TierChange.filter(member_id=member.id).values_list(
                "reason", "to_tier_id", "growth"
            )
            assert changes == [("import", member.tier_id, buckets.get("2025-06", 0))]

    async def test_card_numbers_drawn_for_rows_without_one_skip_every_number_in_use(
        self, services: Services, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        native = await create_member()
        native.card_no = card(50)
        await native.save(update_fields=["card_no"])
        draws = iter([card(50), card(2), card(50), card(61), card(62)])
        monkeypatch.setattr(applying, "new_card_number", lambda: next(draws))
        text = file_of(row(1, card_no=""), row(2), row(3, card_no=""))
        record = await run(services, await staff(), text)
        assert (record.created, record.refused) == (3, 0)
        cards = await Member.filter(openid=None).values_list("card_no", flat=True)
        assert sorted(cards) == sorted([card(2), card(61), card(62)])

    @pytest.mark.parametrize(
        ("text", "code"),
        [
            ("", "csv_empty"),
            (file_of(), "csv_empty"),
            ("card_no,name\r\n1,2\r\n", "import_columns_missing"),
        ],
    )
    async def test_a_file_refused_as_a_whole_writes_nothing(
        self, services: Services, text: str, code: str
    ) -> None:
        with pytest.raises(ValidationFailed) as refused:
            await run(services, await staff(), text)
        assert refused.value.code == code
        assert not await MemberImport.exists()
