"""`wxmember import-members FILE.csv`: the printed report and the written error report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.factories import entry_tier
from tests.member_import.kit import card, file_of, row, staff, the_store
from tests.support.processes import command_config, run_command
from wxmember.core.models import Member


class TestImportMembersCommand:
    async def test_imports_prints_the_report_and_writes_the_refused_rows(
        self, services: Any, settings: dict, tmp_path: Path
    ) -> None:
        await entry_tier()
        await the_store()
        await staff()
        config_file = command_config(settings, tmp_path)
        members = tmp_path / "legacy.csv"
        members.write_bytes(file_of(row(1), row(2, phone="x"), row(3)).encode("gb18030"))
        code, out, err = await run_command(
            config_file, "import-members", str(members), "--operator", "olga"
        )
        assert code == 0, err
        report = json.loads(out)
        assert (report["status"], report["rows"], report["created"], report["refused"]) == (
            "finished",
            3,
            2,
            1,
        )
        errors = tmp_path / "legacy.errors.csv"
        assert report["errors_file"] == str(errors)
        lines = errors.read_text(encoding="utf-8-sig").splitlines()
        assert lines == ["line,card_no,problem,detail", f"3,{card(2)},invalid_phone,phone"]
        assert await Member.filter(card_no__in=[card(1), card(3)]).count() == 2

    async def test_an_unknown_operator_or_file_exits_1(
        self, services: Any, settings: dict, tmp_path: Path
    ) -> None:
        config_file = command_config(settings, tmp_path)
        members = tmp_path / "legacy.csv"
        members.write_text(file_of(row(1)), encoding="utf-8")
        code, _, err = await run_command(
            config_file, "import-members", str(members), "--operator", "nobody"
        )
        assert code == 1 and "nobody" in err
        code, _, err = await run_command(
            config_file, "import-members", str(tmp_path / "missing.csv"), "--operator", "olga"
        )
        assert code == 1 and "missing.csv" in err
