"""Shapes: the answer models of the dicts this capability builds, shared by the channels."""

from __future__ import annotations

from wxmember.core.answers import Answer


# built by `tier_view`
class TierBrief(Answer):
    """A tier as shown beside a member."""

    id: int
    name: str
    level: int
    color: str
