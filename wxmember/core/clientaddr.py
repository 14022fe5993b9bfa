"""The client address of a request, seen through the reverse proxies the config trusts.

Behind nginx every request comes from the proxy's address, so rate limits and logs need the
address the proxy saw. Only a peer listed in `server.trusted_proxies` is believed:

- the peer is not trusted (or nothing is): the client is the peer, whatever headers it sends;
- the peer is trusted, or connected through a Unix socket (only a process on this machine, the
  proxy, can do that): walk `X-Forwarded-For` from the right, skipping trusted proxies; the
  first address that is not one is the client (the left part was written by the client and
  proves nothing). Every hop trusted: the left-most. An entry that is not an address stops the
  walk (what lies left of it cannot be followed), and `X-Real-IP` is asked instead;
- then `X-Real-IP`, then the peer.

Malformed values are ignored, never an error. Addresses are returned in canonical text form
(IPv4-mapped IPv6 as IPv4). The answer is computed once per request and kept on it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address
from urllib.parse import urlencode

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from wxmember.core import keys

Address = IPv4Address | IPv6Address
Network = IPv4Network | IPv6Network

CLIENT_ADDRESS = web.RequestKey("client_address", str)
UNKNOWN = "unknown"
MAX_HOPS = 32  # more hops than any real chain of proxies: the rest is not looked at


def parse_address(text: str) -> Address | None:
    """An address as proxies write it (`1.2.3.4`, `::1`, `1.2.3.4:5678`, `[::1]:80`), or None."""
    text = text.strip()
    if text.startswith("["):
        host, bracket, port = text[1:].partition("]")
        if not bracket or (port and not (port[0] == ":" and port[1:].isdigit())):
            return None
        text = host
    elif text.count(":") == 1:
        host, _, port = text.partition(":")
        if not port.isdigit():
            return None
        text = host
    try:
        address = ip_address(text)
    except ValueError:
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address: Address, trusted: Sequence[Network]) -> bool:
    return any(address in network for network in trusted)


def _from_forwarded_for(values: Iterable[str], trusted: Sequence[Network]) -> Address | None:
    hops = [hop for value in values for hop in value.split(",") if hop.strip()]
    furthest: Address | None = None
    for hop in reversed(hops[-MAX_HOPS:]):
        address = parse_address(hop)
        if address is None:
            return None
        if not _trusted(address, trusted):
            return address
        furthest = address
    return furthest


def resolve_client_address(
    peer: str | None,
    forwarded_for: Iterable[str],
    real_ip: str | None,
    trusted: Sequence[Network],
) -> str:
    """The client's address from the peer and the proxy headers (rules in the module doc)."""
    if peer is None:
        return UNKNOWN
    peer_address = parse_address(peer)
    if peer_address is not None and not _trusted(peer_address, trusted):
        return str(peer_address)
    # a trusted proxy, or one on this machine's Unix socket (the peer is no address)
    found = _from_forwarded_for(forwarded_for, trusted)
    if found is None and real_ip:
        found = parse_address(real_ip)
    if found is None:
        found = peer_address
    return str(found) if found is not None else UNKNOWN


def client_address(request: web.BaseRequest) -> str:
    """The address of the client of this request, computed once and kept on the request."""
    cached = request.get(CLIENT_ADDRESS)
    if cached is not None:
        return cached
    trusted: Sequence[Network] = ()
    if isinstance(request, web.Request):
        trusted = request.config_dict[keys.CONFIG].server.trusted_proxies
    address = resolve_client_address(
        request.remote,
        request.headers.getall("X-Forwarded-For", ()),
        request.headers.get("X-Real-IP"),
        trusted,
    )
    request[CLIENT_ADDRESS] = address
    return address


def forwarded_over_tls(request: web.BaseRequest) -> bool:
    """Whether a trusted proxy says the client reached it over TLS (`X-Forwarded-Proto`)."""
    if not isinstance(request, web.Request) or request.remote is None:
        return False
    peer = parse_address(request.remote)
    trusted = request.config_dict[keys.CONFIG].server.trusted_proxies
    if peer is None or not _trusted(peer, trusted):
        return False
    proto = request.headers.get("X-Forwarded-Proto", "")
    return proto.split(",")[0].strip().lower() == "https"


# Query parameters whose values stay out of the log: credentials, and who a push is about.
UNLOGGED_PARAMETERS = frozenset({"access_token", "code", "js_code", "openid", "secret", "ticket"})


def logged_target(request: web.BaseRequest) -> str:
    """The path and query as the access log shows them, secrets replaced by `***`."""
    if not request.query_string:
        return request.path
    query = [
        (name, "***" if name.lower() in UNLOGGED_PARAMETERS else value)
        for name, value in request.query.items()
    ]
    return f"{request.path}?{urlencode(query, safe='*')}"


class ClientAccessLogger(AbstractAccessLogger):
    """The access log, one line per request, naming the client rather than the proxy."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        client = client_address(request)
        self.logger.info(
            '%s "%s %s" %s %.4f',
            client,
            request.method,
            logged_target(request),
            response.status,
            time,
            extra={
                "client": client,
                "method": request.method,
                "path": request.path,
                "status": response.status,
                "seconds": round(time, 4),
            },
        )
