"""What each staff role may do, for every channel that serves staff (the admin API, the console).

- the owner: everything;
- an operator: everything but staff accounts, the audit log, revealing personal data and
  deleting members' accounts;
- a cashier: the till, and their own password.
"""

from __future__ import annotations

from enum import StrEnum

from wxmember.core.models import Operator, Role


class Area(StrEnum):
    DASHBOARD = "dashboard"
    MEMBERS = "members"
    SETUP = "setup"  # tiers, check-in rules, coupons, the mall
    REMINDERS = "reminders"
    TILL = "till"
    AUDIT = "audit"
    STAFF = "staff"
    REVEAL = "reveal"  # personal data shown unmasked (phones, a member's data export)
    ERASE = "erase"  # members' accounts deleted at their request
    OWN_ACCOUNT = "own_account"


_EVERYTHING = frozenset(Area)
ROLE_AREAS: dict[Role, frozenset[Area]] = {
    Role.OWNER: _EVERYTHING,
    Role.OPERATOR: _EVERYTHING - {Area.AUDIT, Area.STAFF, Area.REVEAL, Area.ERASE},
    Role.CASHIER: frozenset({Area.TILL, Area.OWN_ACCOUNT}),
}


def roles_for(area: Area) -> tuple[Role, ...]:
    """The roles that may work in an area."""
    return tuple(role for role in Role if area in ROLE_AREAS[role])


def may(operator: Operator, area: Area) -> bool:
    """Whether this staff member may work in an area."""
    return area in ROLE_AREAS[Role(operator.role)]
