"""Card numbers: 16 random digits with a Luhn check digit."""

from __future__ import annotations

import random

import pytest

from handlers.members.numbers import (
    group_card_number,
    is_card_number,
    luhn_check_digit,
    luhn_valid,
    new_card_number,
)


class TestLuhn:
    @pytest.mark.parametrize(
        "number", ["79927398713", "4111111111111111", "5555555555554444", "378282246310005"]
    )
    def test_known_valid_numbers(self, number: str) -> None:
        assert luhn_valid(number)
        assert luhn_check_digit(number[:-1]) == number[-1]

    @pytest.mark.parametrize(
        "number",
        ["79927398710", "4111111111111112", "", "7", "12a4", "４１１１１１１１１１１１１１１１"],
    )
    def test_invalid_numbers(self, number: str) -> None:
        assert not luhn_valid(number)

    def test_every_single_digit_error_is_caught(self) -> None:
        number = new_card_number()
        for position in range(len(number)):
            for digit in "0123456789":
                if digit != number[position]:
                    wrong = number[:position] + digit + number[position + 1 :]
                    assert not luhn_valid(wrong), wrong

    def test_swapped_neighbours_are_caught(self) -> None:
        number = "8" + "1234567890123" + "5"
        number = number[:-1] + luhn_check_digit(number[:-1])
        for position in range(len(number) - 1):
            a, b = number[position], number[position + 1]
            if a == b or {a, b} == {"0", "9"}:  # the one swap Luhn cannot see
                continue
            swapped = number[:position] + b + a + number[position + 2 :]
            assert not luhn_valid(swapped), swapped


class TestNewCardNumber:
    def test_ten_thousand_numbers_are_valid_and_random(self) -> None:
        numbers = [new_card_number() for _ in range(10_000)]
        for number in numbers:
            assert len(number) == 16 and number.isdigit() and number[0] != "0", number
            assert luhn_valid(number), number
            assert is_card_number(number)
        assert len(set(numbers)) == 10_000
        # random, not sequential: consecutive numbers are far apart
        gaps = [abs(int(b[:-1]) - int(a[:-1])) for a, b in zip(numbers, numbers[1:], strict=False)]
        assert sorted(gaps)[len(gaps) // 2] > 10**12
        # every digit appears at every random position
        for position in range(1, 15):
            assert {number[position] for number in numbers} == set("0123456789")

    def test_uses_the_given_randomness(self) -> None:
        rng = random.Random(7)
        first = new_card_number(rng.randrange)
        assert new_card_number(random.Random(7).randrange) == first
        assert new_card_number(lambda n: 0) == "100000000000000" + luhn_check_digit(
            "100000000000000"
        )

    @pytest.mark.parametrize(
        "text",
        [
            "0000000000000000",
            "411111111111111",
            "41111111111111111",
            "4111 1111 1111 1111",
            "4111111111111112",
        ],
    )
    def test_what_is_not_a_card_number(self, text: str) -> None:
        assert not is_card_number(text)

    def test_grouped_by_four(self) -> None:
        assert group_card_number("8123456789012345") == "8123 4567 8901 2345"
