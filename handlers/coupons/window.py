"""When a coupon can be claimed in the coupon centre: one definition, read two ways.

The claim window is a list of rules, each naming a column, how it compares with the moment of
the claim, and the refusal a member sees when it fails. The same list builds the SQL condition
(the centre's listing through the ORM, the conditional stock update of a claim as fixed text)
and judges a loaded template (the reason shown in the centre and returned with a 409), so they
cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from tortoise.expressions import Q

from wxmember.core.models.coupons import CouponTemplate, Obtain


@dataclass(frozen=True)
class Rule:
    """`field op value`: `eq` compares with `value`; `gt`/`lte` compare with the moment, and a
    column left empty (NULL) means no bound."""

    refusal: str
    field: str
    op: Literal["eq", "gt", "lte"]
    value: object = None
    listed: bool = False  # the centre still lists a template that fails only this rule

    def condition(self, now: datetime) -> Q:
        if self.op == "eq":
            equal: dict[str, Any] = {self.field: self.value}
            return Q(**equal)
        unbounded: dict[str, Any] = {f"{self.field}__isnull": True}
        bounded: dict[str, Any] = {f"{self.field}__{self.op}": now}
        return Q(**unbounded) | Q(**bounded)

    def sql(self, moment: str) -> str:
        """The condition as SQL text, the moment being the parameter `moment` (`$2`, say)."""
        column = f'"{self.field}"'
        if self.op == "eq":
            return f"{column} = {_literal(self.value)}"
        return f"({column} IS NULL OR {column} {'>' if self.op == 'gt' else '<='} {moment})"

    def holds(self, template: CouponTemplate, now: datetime) -> bool:
        actual = getattr(template, self.field)
        if self.op == "eq":
            return bool(actual == self.value)
        if actual is None:
            return True
        return bool(actual > now) if self.op == "gt" else bool(actual <= now)


# In the order a member is told why: a template that is not in the centre at all, then one
# that is over (stopped, claiming closed, or its fixed validity past), then one not open yet.
WINDOW = (
    Rule("not_claimable", "obtain", "eq", Obtain.CLAIMABLE),
    Rule("ended", "stopped", "eq", False),
    Rule("ended", "claim_ends_at", "gt"),
    Rule("ended", "valid_until", "gt"),
    Rule("not_started", "claim_starts_at", "lte", listed=True),
)


def open_at(now: datetime, *, listed: bool = False) -> Q:
    """The SQL condition of templates claimable at `now` (with `listed`: shown in the centre)."""
    condition = Q()
    for rule in WINDOW:
        if not (listed and rule.listed):
            condition &= rule.condition(now)
    return condition


def open_sql(moment: str) -> str:
    """`open_at` as SQL text, for a fixed statement; `moment` is the parameter of the moment,
    given as the column stores it (`wxmember.core.prepared.db_moment`)."""
    return " AND ".join(rule.sql(moment) for rule in WINDOW)


def _literal(value: object) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, str) and "'" not in value:
        return f"'{value}'"
    raise TypeError(f"no SQL literal for {value!r}")


def still_listed(template: CouponTemplate, now: datetime) -> bool:
    """Whether the centre lists the template at `now` (what `open_at(now, listed=True)` selects)."""
    return all(rule.holds(template, now) for rule in WINDOW if not rule.listed)


def window_refusal(template: CouponTemplate, now: datetime) -> str | None:
    """Why the template cannot be claimed at `now` regardless of who asks, or None."""
    return next((rule.refusal for rule in WINDOW if not rule.holds(template, now)), None)
