"""Keys that meet in one Redis operation lie in one hash slot, as a Redis Cluster requires.

A transaction (WATCH, MULTI/EXEC) runs on one node, so every key it touches must hash to one slot.
These tests compute the slots of the real key formats, so that a change of format that would
break an operation on a cluster fails here, with or without a cluster at hand.
"""

from __future__ import annotations

import pytest
from redis.cluster import key_slot

from handlers.subscriptions.grants import SOURCE_CLIENT, SOURCE_PUSH, unpaired_key
from wxmember.core import member_cache


def slot(key: str) -> int:
    return key_slot(key.encode())


class TestGrantPairing:
    @pytest.mark.parametrize(
        ("member_id", "template_id"),
        [(1, "tpl-birthday"), (42, "Xk3_9fQ-a"), (987_654_321, "t"), (7, "a:b:c")],
    )
    def test_both_sides_of_one_accept_share_a_slot(self, member_id: int, template_id: str) -> None:
        mine = unpaired_key(member_id, template_id, SOURCE_CLIENT)
        theirs = unpaired_key(member_id, template_id, SOURCE_PUSH)
        assert mine != theirs
        assert slot(mine) == slot(theirs)

    def test_members_and_templates_spread_over_slots(self) -> None:
        """The tag is per member and template, not one slot for every pairing."""
        slots = {slot(unpaired_key(member_id, "tpl", SOURCE_CLIENT)) for member_id in range(50)}
        slots |= {slot(unpaired_key(1, f"tpl-{n}", SOURCE_CLIENT)) for n in range(50)}
        assert len(slots) > 50


class TestMemberStamps:
    def test_a_member_s_stamp_and_everyone_s_are_read_apart(self) -> None:
        """They are two GETs, not one MGET: no member's stamp need share everyone's slot."""
        everyone = slot(member_cache._EVERYONE)
        assert {slot(member_cache._key(member_id)) for member_id in range(20)} - {everyone}
