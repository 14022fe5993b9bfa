"""What a bot feature handler gets besides the message: the services and who is asking."""

from __future__ import annotations

from dataclasses import dataclass

from wxmember.core.config import BotConfig
from wxmember.core.context import Services
from wxmember.core.models import Member
from wxmember.core.models.bot import Follower


@dataclass
class BotContext:
    """What a feature handler gets besides the message."""

    services: Services
    openid: str
    unionid: str | None = None
    member: Member | None = None
    follower: Follower | None = None

    @property
    def bot(self) -> BotConfig:
        return self.services.config.bot
