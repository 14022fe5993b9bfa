"""Every Tortoise model of the service, in one app called `models`."""

from wxmember.core.models.members import Member
from wxmember.core.models.operators import AuditEntry, Operator, Role
from wxmember.core.models.tiers import Tier

__all__ = ["AuditEntry", "Member", "Operator", "Role", "Tier"]
