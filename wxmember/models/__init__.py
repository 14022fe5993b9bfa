"""Every Tortoise model of the service, in one app called `models`."""

from wxmember.models.members import Member
from wxmember.models.operators import AuditEntry, Operator, Role
from wxmember.models.tiers import Tier

__all__ = ["AuditEntry", "Member", "Operator", "Role", "Tier"]
