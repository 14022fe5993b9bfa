"""Typed application keys: every shared resource lives on the Application under one of these.

Channels read them with `request.config_dict[KEY]`, so sub-applications see the root's values.
"""

from __future__ import annotations

import aiohttp
from aiohttp import web
from redis.asyncio import Redis

from wxmember.core.config import Config
from wxmember.core.context import Services
from wxmember.core.metrics import Metrics

CONFIG = web.AppKey("config", Config)
REDIS = web.AppKey("redis", Redis)
HTTP = web.AppKey("http", aiohttp.ClientSession)
METRICS = web.AppKey("metrics", Metrics)
SERVICES = web.AppKey("services", Services)
