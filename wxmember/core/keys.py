"""Typed application keys: every shared resource lives on the Application under one of these.

Channels read them with `request.config_dict[KEY]`, so sub-applications see the root's values.
"""

from __future__ import annotations

import aiohttp
from aiohttp import web

from wxmember.core.config import Config
from wxmember.core.context import Services
from wxmember.core.metrics import Metrics
from wxmember.core.redis import RedisClient
from wxmember.core.redis_lane import Lane

CONFIG = web.AppKey("config", Config)
REDIS = web.AppKey[RedisClient]("redis")
REDIS_LANE = web.AppKey[Lane]("redis_lane")
HTTP = web.AppKey("http", aiohttp.ClientSession)
METRICS = web.AppKey("metrics", Metrics)
SERVICES = web.AppKey("services", Services)
