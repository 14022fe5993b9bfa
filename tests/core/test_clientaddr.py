"""The client address behind reverse proxies: who is trusted, which header counts, bad headers."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from ipaddress import ip_network
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from wxmember.core.clientaddr import (
    UNKNOWN,
    ClientAccessLogger,
    parse_address,
    resolve_client_address,
)

PROXIES = (ip_network("127.0.0.1"), ip_network("10.0.0.0/8"), ip_network("::1"))


def resolve(
    peer: str | None, forwarded_for: list[str] | None = None, real_ip: str | None = None
) -> str:
    return resolve_client_address(peer, forwarded_for or [], real_ip, PROXIES)


class TestParseAddress:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("203.0.113.7", "203.0.113.7"),
            (" 203.0.113.7 ", "203.0.113.7"),
            ("203.0.113.7:51234", "203.0.113.7"),
            ("2001:db8::7", "2001:db8::7"),
            ("[2001:db8::7]:443", "2001:db8::7"),
            ("[2001:db8::7]", "2001:db8::7"),
            ("::ffff:203.0.113.7", "203.0.113.7"),
            ("2001:DB8:0:0::7", "2001:db8::7"),
        ],
    )
    def test_addresses_as_proxies_write_them(self, text: str, expected: str) -> None:
        assert str(parse_address(text)) == expected

    @pytest.mark.parametrize(
        "text",
        ["", "unknown", "_hidden", "203.0.113", "203.0.113.7:port", "[2001:db8::7", "1.2.3.4:5:6"],
    )
    def test_anything_else_is_none(self, text: str) -> None:
        assert parse_address(text) is None


class TestResolveClientAddress:
    def test_an_untrusted_peer_is_the_client_whatever_it_sends(self) -> None:
        assert resolve("203.0.113.7", ["198.51.100.1"], "198.51.100.2") == "203.0.113.7"

    def test_nothing_is_trusted_by_default(self) -> None:
        assert resolve_client_address("127.0.0.1", ["198.51.100.1"], None, ()) == "127.0.0.1"

    def test_behind_a_trusted_proxy_the_forwarded_client(self) -> None:
        assert resolve("127.0.0.1", ["198.51.100.1"]) == "198.51.100.1"

    def test_the_right_most_untrusted_hop_wins_over_what_the_client_wrote(self) -> None:
        # the client wrote 6.6.6.6; nginx appended the address it saw; a balancer in 10/8 too
        chain = ["6.6.6.6, 198.51.100.1, 10.0.0.5"]
        assert resolve("127.0.0.1", chain) == "198.51.100.1"

    def test_several_header_lines_are_one_list(self) -> None:
        assert resolve("127.0.0.1", ["6.6.6.6", "198.51.100.1"]) == "198.51.100.1"

    def test_every_hop_trusted_gives_the_left_most(self) -> None:
        assert resolve("127.0.0.1", ["10.0.0.9, 10.0.0.5"]) == "10.0.0.9"

    def test_x_real_ip_when_there_is_no_forwarded_for(self) -> None:
        assert resolve("::1", [], "198.51.100.3") == "198.51.100.3"

    @pytest.mark.parametrize(
        "chain", [["garbage"], ["198.51.100.1, not-an-address"], ["", " , "], ["a" * 5000]]
    )
    def test_a_malformed_forwarded_for_falls_back_to_x_real_ip_then_the_peer(
        self, chain: list[str]
    ) -> None:
        assert resolve("127.0.0.1", chain, "198.51.100.3") == "198.51.100.3"
        assert resolve("127.0.0.1", chain, "nonsense") == "127.0.0.1"
        assert resolve("127.0.0.1", chain) == "127.0.0.1"

    def test_an_ipv4_mapped_peer_is_matched_as_ipv4(self) -> None:
        assert resolve("::ffff:127.0.0.1", ["198.51.100.1"]) == "198.51.100.1"
        assert resolve("::ffff:203.0.113.7", ["198.51.100.1"]) == "203.0.113.7"

    def test_a_unix_socket_peer_is_a_local_proxy(self) -> None:
        assert resolve("", ["198.51.100.1"]) == "198.51.100.1"
        assert resolve("", []) == UNKNOWN

    def test_no_peer_is_unknown(self) -> None:
        assert resolve(None, ["198.51.100.1"]) == UNKNOWN


class TestAccessLog:
    @pytest.fixture
    def settings(self, settings: dict[str, Any]) -> dict[str, Any]:
        settings["server"] = {"trusted_proxies": ["127.0.0.1"]}  # the test client's address
        return settings

    async def test_each_line_names_the_client_not_the_proxy(
        self,
        app: web.Application,
        aiohttp_client: Callable[..., Awaitable[TestClient]],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        server = TestServer(app)
        await server.start_server(
            access_log_class=ClientAccessLogger, access_log=logging.getLogger("test.access")
        )
        client = await aiohttp_client(server)
        with caplog.at_level(logging.INFO, logger="test.access"):
            response = await client.get("/healthz", headers={"X-Forwarded-For": "198.51.100.1"})
            assert response.status == 200
            await client.close()  # the line is written once the response is finished
        records = [record for record in caplog.records if record.name == "test.access"]
        assert [record.getMessage().split()[0] for record in records] == ["198.51.100.1"]
        assert records[0].__dict__["client"] == "198.51.100.1"

    async def test_credentials_in_the_query_are_not_logged(
        self,
        app: web.Application,
        aiohttp_client: Callable[..., Awaitable[TestClient]],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        server = TestServer(app)
        await server.start_server(
            access_log_class=ClientAccessLogger, access_log=logging.getLogger("test.access")
        )
        client = await aiohttp_client(server)
        with caplog.at_level(logging.INFO, logger="test.access"):
            await client.get("/healthz?access_token=tok-123&openid=o-456&page=2")
            await client.close()
        [line] = [r.getMessage() for r in caplog.records if r.name == "test.access"]
        assert "/healthz?access_token=***&openid=***&page=2" in line
        assert "tok-123" not in line and "o-456" not in line
