"""Fixtures of the points mall tests."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient

from tests.mall.kit import MallKit
from wxmember.core.context import Services


@pytest.fixture
def mall(client: TestClient, services: Services) -> MallKit:
    return MallKit(client, services)
