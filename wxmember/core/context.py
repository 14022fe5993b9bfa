"""`Services`: what business operations need from the outside world, injected in one piece."""

from __future__ import annotations

from dataclasses import dataclass, field

from wxmember.core.clock import Clock
from wxmember.core.config import Config
from wxmember.core.cpu import CpuPool
from wxmember.core.member_cache import MemberCache
from wxmember.core.redis import RedisClient
from wxmember.core.redis_lane import Lane
from wxmember.core.security import DataCipher, TokenSigner
from wxmember.core.wechat import WeChatClient


@dataclass
class Services:
    """Handed to every handler: config, Redis, the WeChat clients, crypto and the clock.

    `lane` reaches the same Redis for the short batches every request makes (member stamps,
    bot deduplication), past redis-py's pool (wxmember.core.redis_lane)."""

    config: Config
    redis: RedisClient
    lane: Lane
    miniapp: WeChatClient
    official: WeChatClient
    cipher: DataCipher
    tokens: TokenSigner
    members: MemberCache
    cpu: CpuPool
    clock: Clock = field(default_factory=Clock)
