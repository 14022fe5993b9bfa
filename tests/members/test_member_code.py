"""The dynamic member code and the POS look-up by code or card number."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from handlers.members.cards import find_member_for_pos
from handlers.members.member_code import (
    DIGITS,
    MAX_MEMBER_ID,
    code_for_step,
    issue_member_code,
    parse_payload,
    payload_for,
    resolve_member_code,
    time_step,
    to_base36,
)
from tests.factories import create_member
from tests.support.localtime import freeze
from wxmember.core.clock import FrozenClock
from wxmember.core.context import Services
from wxmember.core.errors import CardNumberNotAccepted, NotFound
from wxmember.core.models import Member

AT = datetime(2024, 5, 1, 2, 0, 10, tzinfo=UTC)


@pytest.fixture
def clock(services: Services) -> FrozenClock:
    return freeze(services, AT)


class TestCodeFormat:
    def test_payload_round_trip(self) -> None:
        for member_id in (1, 35, 36, 123_456, MAX_MEMBER_ID):
            payload = payload_for(member_id, "01234567")
            assert payload.startswith("WXM")
            assert parse_payload(payload) == (member_id, "01234567")
            assert parse_payload(payload.lower()) == (member_id, "01234567")
            assert parse_payload(f" {payload[:5]} {payload[5:]}\r\n") == (member_id, "01234567")
        assert to_base36(123_456) == "2N9C"

    @pytest.mark.parametrize(
        "text",
        [
            "",
            "WXM",
            "WXM1234567",  # too few digits for id + code
            "XYZ101234567",
            "WXM1-01234567",
            f"WXM{to_base36(MAX_MEMBER_ID + 1)}01234567",
            "WXMZZZZZZZZZZZZZZZ01234567",
            "WXM101234567X",  # something after the digits
        ],
    )
    def test_malformed_payloads(self, text: str) -> None:
        assert parse_payload(text) is None

    def test_codes_change_every_step_and_differ_by_secret(self) -> None:
        step = time_step(AT)
        code = code_for_step("a" * 40, step)
        assert len(code) == DIGITS and code.isdigit()
        assert code_for_step("a" * 40, step) == code
        assert code_for_step("a" * 40, step + 1) != code
        assert code_for_step("b" * 40, step) != code


class TestResolve:
    async def test_valid_now_one_step_later_refused_after(
        self, services: Services, clock: FrozenClock
    ) -> None:
        member = await create_member()
        code = issue_member_code(services, member).payload
        found = await resolve_member_code(services, code)
        assert found is not None and found.id == member.id
        clock.advance(seconds=60)
        found = await resolve_member_code(services, code)
        assert found is not None and found.id == member.id
        clock.advance(seconds=60)
        assert await resolve_member_code(services, code) is None

    async def test_a_code_from_the_future_is_refused(
        self, services: Services, clock: FrozenClock
    ) -> None:
        member = await create_member()
        clock.advance(seconds=60)
        later = issue_member_code(services, member).payload
        clock.advance(seconds=-60)
        assert await resolve_member_code(services, later) is None

    async def test_expiry_is_the_end_of_the_next_step(
        self, services: Services, clock: FrozenClock
    ) -> None:
        code = issue_member_code(services, await create_member())
        assert code.refresh_at == datetime(2024, 5, 1, 2, 1, tzinfo=UTC)
        assert code.expires_at == datetime(2024, 5, 1, 2, 2, tzinfo=UTC)
        assert code.qr_svg().startswith("<svg")

    async def test_wrong_digits_or_another_member_is_refused(
        self, services: Services, clock: FrozenClock
    ) -> None:
        alice, bob = await create_member(), await create_member()
        code = issue_member_code(services, alice).payload
        wrong_digit = code[:-1] + str((int(code[-1]) + 1) % 10)
        assert await resolve_member_code(services, wrong_digit) is None
        as_bob = payload_for(bob.id, code[-DIGITS:])
        assert await resolve_member_code(services, as_bob) is None
        assert await resolve_member_code(services, payload_for(999_999, code[-DIGITS:])) is None

    async def test_deleted_or_cardless_member_is_refused(
        self, services: Services, clock: FrozenClock
    ) -> None:
        member = await create_member()
        code = issue_member_code(services, member).payload
        await Member.filter(id=member.id).update(deleted_at=AT)
        assert await resolve_member_code(services, code) is None
        cardless = await create_member(with_card=False)
        assert await resolve_member_code(services, payload_for(cardless.id, "00000000")) is None


class TestFindMemberForPos:
    @pytest.fixture
    def settings(self, settings: dict[str, Any]) -> dict[str, Any]:
        settings["pos"] = {"allow_card_number": True}
        return settings

    async def test_by_dynamic_code(self, services: Services, clock: FrozenClock) -> None:
        member = await create_member()
        code = issue_member_code(services, member).payload
        found = await find_member_for_pos(services, f" {code.lower()} ")
        assert found.id == member.id
        assert found.tier is not None and found.tier.level == 0

    async def test_by_card_number_as_typed(self, services: Services, client: TestClient) -> None:
        member = await create_member()
        card_no = "4111111111111111"
        await Member.filter(id=member.id).update(card_no=card_no)
        for typed in (card_no, "4111 1111 1111 1111", "4111-1111-1111-1111"):
            assert (await find_member_for_pos(services, typed)).id == member.id

    @pytest.mark.parametrize(
        "text",
        [
            "4111111111111112",  # wrong Luhn digit
            "5555555555554444",  # valid, but nobody's
            "",
            "hello",
            "1" * 1000,
            "WXM1" + "0" * 8,
        ],
    )
    async def test_unknown_is_member_not_found(
        self, services: Services, clock: FrozenClock, text: str
    ) -> None:
        member = await create_member()
        await Member.filter(id=member.id).update(card_no="4111111111111111")
        with pytest.raises(NotFound) as missing:
            await find_member_for_pos(services, text)
        assert missing.value.code == "member_not_found"

    async def test_deleted_member_card_is_not_found(
        self, services: Services, client: TestClient
    ) -> None:
        member = await create_member()
        await Member.filter(id=member.id).update(card_no="4111111111111111", deleted_at=AT)
        with pytest.raises(NotFound):
            await find_member_for_pos(services, "4111111111111111")


class TestFindMemberForPosByDefault:
    async def test_a_card_number_is_refused_before_any_look_up(
        self, services: Services, client: TestClient
    ) -> None:
        member = await create_member()
        await Member.filter(id=member.id).update(card_no="4111111111111111")
        for typed in ("4111111111111111", "5555555555554444", "WXMCARD:4111111111111111"):
            with pytest.raises(CardNumberNotAccepted) as refused:
                await find_member_for_pos(services, typed)
            assert (refused.value.status, refused.value.code) == (400, "card_number_not_accepted")
