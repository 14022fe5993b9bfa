"""The RFM rules: segments and their labels, score boundaries ("cuts"), the segment rule.

Scores run 1..5, higher is better: R for a recent last purchase, F for many purchases, M for
much money spent (net of refunds). The boundaries of a run are `Cuts`, four ascending numbers
per measure:

- recency: score 5 within `r[0]` days, 4 within `r[1]`, 3 within `r[2]`, 2 within `r[3]`,
  else 1;
- frequency and monetary value: score 2 from `f[0]` (`m[0]` fen), 3 from `f[1]`, 4 from `f[2]`,
  5 from `f[3]`, else 1.

In quintile mode the cuts come from the card holders who purchased: each measure is split into
five groups of (nearly) equal size with `NTILE(5)`, worst first, and a member scores one more
for each of the four lower groups whose every value theirs beats. Members with equal values
always get the same score: the lowest their value reaches (everyone bought once: F is 1 for
all). See `Cuts.from_groups` and handlers/segments/sql.py.

The segment rule: a score of `rfm.high_score` (default 3) or more is "high". A member who
never purchased is `never_purchased`; a member whose first purchase lies within the last
`rfm.new_days` days is `new`; everyone else falls into one of the eight classic segments by
whether R, F and M are high: M decides 重要 (important) or 一般 (general), and (R, F) decide
价值 value (both high), 发展 development (R only), 保持 retention (F only), 挽留 win-back (neither).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Segment(StrEnum):
    IMPORTANT_VALUE = "important_value"
    IMPORTANT_DEVELOPMENT = "important_development"
    IMPORTANT_RETENTION = "important_retention"
    IMPORTANT_WINBACK = "important_winback"
    GENERAL_VALUE = "general_value"
    GENERAL_DEVELOPMENT = "general_development"
    GENERAL_RETENTION = "general_retention"
    GENERAL_WINBACK = "general_winback"
    NEW = "new"
    NEVER_PURCHASED = "never_purchased"


LABELS: dict[Segment, str] = {
    Segment.IMPORTANT_VALUE: "重要价值",
    Segment.IMPORTANT_DEVELOPMENT: "重要发展",
    Segment.IMPORTANT_RETENTION: "重要保持",
    Segment.IMPORTANT_WINBACK: "重要挽留",
    Segment.GENERAL_VALUE: "一般价值",
    Segment.GENERAL_DEVELOPMENT: "一般发展",
    Segment.GENERAL_RETENTION: "一般保持",
    Segment.GENERAL_WINBACK: "一般挽留",
    Segment.NEW: "新客",
    Segment.NEVER_PURCHASED: "未购买",
}

# (R high, F high, M high) -> segment
CLASSIC: dict[tuple[bool, bool, bool], Segment] = {
    (True, True, True): Segment.IMPORTANT_VALUE,
    (True, False, True): Segment.IMPORTANT_DEVELOPMENT,
    (False, True, True): Segment.IMPORTANT_RETENTION,
    (False, False, True): Segment.IMPORTANT_WINBACK,
    (True, True, False): Segment.GENERAL_VALUE,
    (True, False, False): Segment.GENERAL_DEVELOPMENT,
    (False, True, False): Segment.GENERAL_RETENTION,
    (False, False, False): Segment.GENERAL_WINBACK,
}

MEASURES = ("r", "f", "m")


_BY_CODE = {str(segment): text for segment, text in LABELS.items()}


def label(segment: str | None) -> str | None:
    """The Chinese label of a segment code (None for none)."""
    if not segment:
        return None
    return _BY_CODE.get(segment, segment)


def segments_public() -> list[dict[str, str]]:
    """Every segment, in display order, with its label."""
    return [{"code": str(segment), "label": LABELS[segment]} for segment in Segment]


@dataclass(frozen=True)
class Cuts:
    """The score boundaries of a run: four ascending numbers per measure (module docstring)."""

    r: tuple[int, int, int, int]
    f: tuple[int, int, int, int]
    m: tuple[int, int, int, int]

    def public(self) -> dict[str, list[int]]:
        return {
            "recency_days": list(self.r),
            "frequency": list(self.f),
            "monetary_fen": list(self.m),
        }

    @classmethod
    def from_public(cls, data: dict[str, Any]) -> Cuts:
        def four(key: str) -> tuple[int, int, int, int]:
            a, b, c, d = (int(value) for value in data[key])
            return (a, b, c, d)

        return cls(four("recency_days"), four("frequency"), four("monetary_fen"))

    @classmethod
    def from_groups(cls, r: dict[int, int], f: dict[int, int], m: dict[int, int]) -> Cuts:
        """Cuts from the NTILE(5) groups of each measure, worst group first (1..5).

        `r` holds each group's smallest recency (groups of descending days), `f` and `m` each
        group's largest value (groups of ascending values). A score rises past a group only
        for a value strictly better than all of it, so equal values share a score. With
        fewer than five members some groups are empty and repeat the boundary before them.
        """

        def carried(bounds: dict[int, int], better: Callable[[int, int], int]) -> list[int]:
            found: list[int] = []
            for group in range(1, 5):
                value = bounds.get(group, found[-1] if found else 0)
                found.append(better(found[-1], value) if found else value)
            return found

        r1, r2, r3, r4 = carried(r, min)
        fa, fb, fc, fd = (value + 1 for value in carried(f, max))
        ma, mb, mc, md = (value + 1 for value in carried(m, max))
        return cls((r4 - 1, r3 - 1, r2 - 1, r1 - 1), (fa, fb, fc, fd), (ma, mb, mc, md))


def recency_score(days: int, cuts: Cuts) -> int:
    """5 within the first boundary's days ... 1 beyond the last."""
    return 5 - sum(1 for bound in cuts.r if days > bound)


def amount_score(value: int, bounds: tuple[int, int, int, int]) -> int:
    """1, plus one for each boundary reached (frequency, monetary value)."""
    return 1 + sum(1 for bound in bounds if value >= bound)


def classic_segment(r: int, f: int, m: int, high_score: int) -> Segment:
    """One of the eight classic segments, by which of R, F and M are high."""
    return CLASSIC[(r >= high_score, f >= high_score, m >= high_score)]
