"""The Redis lane's wire format: byte for byte what redis-py writes for the same commands."""

from __future__ import annotations

import pytest
from redis.asyncio.connection import Connection
from redis.exceptions import DataError

from wxmember.core.redis_lane import Command, packed

COMMANDS: list[Command] = [
    ("GET", "wxm:member:12345"),
    ("SET", "wxm:bot:claim:oAbC:1733000000", b"\x00working", "EX", 300, "NX"),
    ("SET", "text", "会员 积分\r\n$3\r\n", "EX", 0),
    ("SET", b"", b"", "PX", -1),
    ("INCRBY", "n", 2**63 - 1),
    ("CLIENT", "ID"),
    ("PING",),
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda command: str(command[0]))
def test_one_command_is_written_as_redis_py_writes_it(command: Command) -> None:
    assert packed([command]) == b"".join(Connection().pack_commands([command]))


def test_a_batch_is_its_commands_one_after_another() -> None:
    assert packed(COMMANDS) == b"".join(packed([command]) for command in COMMANDS)
    assert packed([("GET", "k"), ("GET", "l")]) == b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n" + (
        b"*2\r\n$3\r\nGET\r\n$1\r\nl\r\n"
    )


@pytest.mark.parametrize("argument", [True, 1.5, None, ["k"]], ids=repr)
def test_an_argument_the_format_cannot_carry_is_refused(argument: object) -> None:
    with pytest.raises(DataError):
        packed([("SET", "k", argument)])  # type: ignore[list-item]
