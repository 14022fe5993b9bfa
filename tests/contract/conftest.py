"""Contract tests: a real `wxmember demo` process on its own SQLite file, fuzzed by schemathesis
through the OpenAPI documents it serves, as a member and as each staff role.

One service serves the whole folder. Identities log in as their clients do: the member through
a one-time code of the demo's fake WeChat (and opens a card), staff at `/admin/api/v1/login`.
An identity whose session a fuzzed request ended (logout, deleting the account) logs in again
before the next request (`Identity.headers`).
"""

from __future__ import annotations

import itertools
import json
import secrets
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import schemathesis
from schemathesis.specs.openapi.schemas import OpenApiSchema

from tests.support.processes import running_demo

DEMO_PASSWORD = "demo-password-123"
STAFF_ROLES = ("owner", "operator", "cashier")
MINIAPP = "/api/v1"
ADMIN = "/admin/api/v1"


def call(
    url: str, body: Any = None, token: str | None = None, method: str | None = None
) -> tuple[int, Any]:
    """A JSON request (POST with a body, else GET); the status and the decoded answer."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


@pytest.fixture(scope="session")
def service_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of a running demo service (seeded brand, fake WeChat) on a fresh SQLite."""
    # no reminders or expiry runs beside the fuzzing: what it meets is what it made
    scheduler_off = {"WXMEMBER_SCHEDULER_ENABLED": "false"}
    with running_demo(tmp_path_factory.mktemp("contract"), scheduler_off) as url:
        yield url


@pytest.fixture(scope="session")
def documents(service_url: str) -> dict[str, OpenApiSchema]:
    """The two documents as the running service serves them, by prefix."""
    return {
        prefix: schemathesis.openapi.from_url(f"{service_url}{prefix}/openapi.json")
        for prefix in (MINIAPP, ADMIN)
    }


@dataclass
class Identity:
    """Who the requests are sent as; logs in again when a request ended the session."""

    base: str
    name: str
    token: str = ""
    id: int = 0
    _openids: Iterator[int] = field(default_factory=itertools.count)

    @property
    def prefix(self) -> str:
        return MINIAPP if self.name == "member" else ADMIN

    def headers(self) -> dict[str, str]:
        if not self.token:
            self.log_in()
        return {"Authorization": f"Bearer {self.token}"}

    def ended(self) -> None:
        """The session was ended (logout, the account deleted): log in before the next call."""
        self.token = ""

    def log_in(self) -> None:
        if self.name == "member":
            self._member_log_in()
        else:
            status, answer = call(
                f"{self.base}{ADMIN}/login", {"username": self.name, "password": DEMO_PASSWORD}
            )
            assert status == 200, answer
            self.token, self.id = answer["token"], answer["operator"]["id"]

    def _member_log_in(self) -> None:
        """A member with an open card, as the mini-program makes one."""
        openid = f"contract-{secrets.token_hex(4)}-{next(self._openids)}"
        _, code = call(f"{self.base}/fake-wechat/_demo/login-code", {"openid": openid})
        status, session = call(f"{self.base}{MINIAPP}/session", {"code": code["code"]})
        assert status == 200, session
        self.token, self.id = session["token"], session["member"]["id"]
        phone = "139" + "".join(secrets.choice("0123456789") for _ in range(8))
        _, phone_code = call(f"{self.base}/fake-wechat/_demo/phone-code", {"phone": phone})
        card = {"name": "契约", "birthday": "1990-05-06", "phone_code": phone_code["code"]}
        status, answer = call(f"{self.base}{MINIAPP}/card", card, token=self.token)
        assert status == 201, answer


@pytest.fixture(scope="session")
def identities(service_url: str) -> dict[str, Identity]:
    """The member and the three staff roles, each logged in on first use."""
    return {name: Identity(service_url, name) for name in ("member", *STAFF_ROLES)}


@pytest.fixture(scope="session")
def spare_operator(service_url: str, identities: dict[str, Identity]) -> int:
    """A cashier account that fuzzed account changes may disable or demote, so they never touch
    the accounts the run logs in with."""
    owner = identities["owner"]
    body = {
        "username": f"contract-{secrets.token_hex(4)}",
        "password": secrets.token_urlsafe(16),
        "role": "cashier",
    }
    owner.headers()
    status, answer = call(f"{service_url}{ADMIN}/operators", body, token=owner.token)
    assert status == 201, answer
    return int(answer["id"])


@pytest.fixture(scope="session")
def staff_ids(identities: dict[str, Identity]) -> set[int]:
    """The ids of the staff accounts the run logs in with."""
    for role in STAFF_ROLES:
        identities[role].headers()
    return {identities[role].id for role in STAFF_ROLES}
