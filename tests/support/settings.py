"""The test configuration: fixed keys and app ids, and the real servers when the CI gives them."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

import pytest

PG_URL = os.environ.get("WXMEMBER_TEST_DATABASE_URL", "")
REDIS_URL = os.environ.get("WXMEMBER_TEST_REDIS_URL", "")

MINIAPP_APPID = "wxminiapp0000001"
MINIAPP_SECRET = "miniapp-secret-0123456789abcdef"
OFFICIAL_APPID = "wxofficial000001"
OFFICIAL_SECRET = "official-secret-0123456789abcdef"
OFFICIAL_TOKEN = "pamtest"
OFFICIAL_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
SECRET_KEY = "test-secret-key-0123456789abcdef"
DATA_KEY = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="

T = TypeVar("T", bound=Callable[..., object] | type)


def requires_postgres(test: T) -> T:
    """Mark a test or class `postgres`; it is skipped unless WXMEMBER_TEST_DATABASE_URL is set."""
    skip = pytest.mark.skipif(not PG_URL, reason="needs WXMEMBER_TEST_DATABASE_URL")
    return pytest.mark.postgres(skip(test))


def base_settings(database_url: str, api_base: str) -> dict[str, dict[str, Any]]:
    """The config every test starts from; tests override sections as they need."""
    return {
        "database": {"url": database_url, "pool_max": 20},
        "redis": {"url": REDIS_URL},
        "brand": {"name": "测试品牌", "timezone": "Asia/Shanghai"},
        "miniapp": {"appid": MINIAPP_APPID, "secret": MINIAPP_SECRET},
        "official": {
            "appid": OFFICIAL_APPID,
            "secret": OFFICIAL_SECRET,
            "token": OFFICIAL_TOKEN,
            "encoding_aes_key": OFFICIAL_AES_KEY,
            "mode": "safe",
        },
        "wechat": {"api_base": api_base, "timeout_seconds": 2.0, "network_retries": 1},
        "security": {"secret_key": SECRET_KEY, "data_key": DATA_KEY},
        "scheduler": {"enabled": False},
    }
