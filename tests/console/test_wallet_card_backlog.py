"""微信会员卡 in the console shows how members' cards in the wallet are kept in step: cards
held, activated, waiting and failing, and the latest failures with WeChat's words, the card
numbers masked."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from handlers.wallet_card.backlog import mask_card_no
from tests.console.conftest import sign_in

CARD_ID = "pConsoleBacklogCard0000001"
RETRYING = "/card/membercard/updateuser: errcode -1: system error"
PARKED = "/card/membercard/updateuser: errcode 40127: invalid user-card status"


def _when(moment: datetime) -> str:
    return moment.isoformat(" ")


@pytest.fixture
def holders(
    console_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[list[str], dict[str, int]]]:
    """Three members of the running demo holding the card: one in step, one failing and
    retrying tomorrow, one parked after WeChat refused it; their card numbers, and the counts
    the page should show (with any card the demo holds itself)."""
    demos = Path(tmp_path_factory.getbasetemp()).glob("console[0-9]*/demo.db")
    database = max(demos, key=lambda path: path.stat().st_mtime)  # the running demo's
    now = datetime.now(UTC)
    with sqlite3.connect(database) as db:
        members = db.execute(
            "SELECT m.id, m.card_no FROM members m WHERE m.card_no IS NOT NULL"
            " AND m.deleted_at IS NULL AND NOT EXISTS"
            " (SELECT 1 FROM wallet_card_holders h WHERE h.member_id = m.id)"
            " ORDER BY m.id LIMIT 3"
        ).fetchall()
        rows = [
            # wanted, sent, attempts, attempt_after, last_error
            (3, 3, 0, now, None),
            (5, 4, 2, now + timedelta(days=1), RETRYING),
            (2, 2, 1, now, PARKED),
        ]
        for (member_id, card_no), (wanted, sent, attempts, after, error) in zip(
            members, rows, strict=True
        ):
            db.execute(
                "INSERT INTO wallet_card_holders (member_id, card_id, code, official_openid,"
                " state, activated_at, wanted_version, sent_version, attempt_after, attempts,"
                " last_error, sent_bonus, sent_at, added_at, updated_at)"
                " VALUES (?, ?, ?, ?, 'held', ?, ?, ?, ?, ?, ?, 0, ?, ?, ?)",
                (
                    member_id,
                    CARD_ID,
                    card_no,
                    f"oBacklog{member_id}",
                    _when(now),
                    wanted,
                    sent,
                    _when(after),
                    attempts,
                    error,
                    _when(now - timedelta(hours=1)),
                    _when(now - timedelta(days=2)),
                    _when(now),
                ),
            )
        counts = dict(
            zip(
                ("held", "activated", "waiting", "failing"),
                db.execute(
                    "SELECT count(*), count(activated_at),"
                    " sum(wanted_version > sent_version), count(last_error)"
                    " FROM wallet_card_holders WHERE state = 'held'"
                ).fetchone(),
                strict=True,
            )
        )
    yield [card_no for _, card_no in members], counts
    with sqlite3.connect(database) as db:
        db.execute("DELETE FROM wallet_card_holders WHERE card_id = ?", (CARD_ID,))


class TestWalletCardBacklog:
    def test_the_page_shows_the_backlog_and_the_latest_failures(
        self, page: Page, holders: tuple[list[str], dict[str, int]]
    ) -> None:
        (in_step, retrying, parked), counts = holders
        assert counts["failing"] >= 2 and counts["waiting"] >= 1
        sign_in(page, "owner")
        page.get_by_role("link", name="微信会员卡").click()
        backlog = page.get_by_role("region", name="会员卡包同步")
        expect(backlog).to_be_visible()
        facts = backlog.locator("dl")
        labels = {"held": "已领卡会员", "activated": "已激活", "waiting": "待同步"}
        labels["failing"] = "同步失败"
        for name, label in labels.items():
            expect(facts.locator(f"dt:text-is('{label}') + dd")).to_have_text(str(counts[name]))
        failures = backlog.get_by_role("table", name="最近的同步失败")
        rows = failures.get_by_role("row")
        expect(failures).not_to_contain_text(mask_card_no(in_step))
        expect(failures).not_to_contain_text(retrying)  # masked, never in full
        retry_row = rows.filter(has_text=mask_card_no(retrying))
        expect(retry_row).to_contain_text("system error")
        expect(retry_row.get_by_role("cell").nth(0)).to_have_text("2")
        parked_row = rows.filter(has_text=mask_card_no(parked))
        expect(parked_row).to_contain_text("40127")
        expect(parked_row).to_contain_text("已暂停，待下次变动")
        parked_row.get_by_role("link", name=mask_card_no(parked)).click()
        expect(page).to_have_url(re.compile(r"/console/members/\d+$"))
        expect(page.get_by_role("heading", level=1)).to_contain_text(parked)
        wallet = page.locator("dt:text-is('微信卡包') + dd")
        expect(wallet).to_contain_text("已添加，已同步（积分 0，")
        expect(wallet).to_contain_text("同步失败：" + PARKED)
        page.go_back()
        retry_row.get_by_role("link", name=mask_card_no(retrying)).click()
        expect(page.get_by_role("heading", level=1)).to_contain_text(retrying)
        expect(wallet).to_contain_text("已添加，有变动待同步")
        expect(wallet).to_contain_text("同步失败：" + RETRYING)
