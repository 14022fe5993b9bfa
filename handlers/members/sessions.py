"""Member sessions: WeChat login, session tokens, logout.

`login` exchanges a `wx.login` code with WeChat (code2session), finds the member by openid or
creates them (the unique openid column settles concurrent first logins), and issues a signed
token that names only the member id and their token version: neither the openid nor the
session_key ever leave the server. The session_key is kept encrypted, because WeChat's
encrypted open data can only be read with the latest one.

Login is rate-limited per client IP and per code before WeChat is asked.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F

from handlers.members.cards import wechat_refusal
from wxmember.core.context import Services
from wxmember.core.errors import DomainError, Forbidden, Unauthorized, UpstreamUnavailable
from wxmember.core.models import Member
from wxmember.core.ratelimit import enforce
from wxmember.core.wechat import WeChatError

log = logging.getLogger(__name__)

MEMBER_TOKEN_PURPOSE = "member"
# A NAT'd shop Wi-Fi puts many members behind one address: the IP limit is generous.
IP_LIMIT_FACTOR = 10
# A code works once at WeChat; a few retries cover a flaky network, more is probing.
CODE_ATTEMPTS = 3
CODE_WINDOW_SECONDS = 300


@dataclass(frozen=True)
class LoginResult:
    token: str
    expires_in: int
    member: Member
    created: bool


def issue_member_token(services: Services, member: Member) -> tuple[str, int]:
    """A session token for the member and its lifetime in seconds."""
    ttl = services.config.security.session_ttl_seconds
    return services.tokens.sign(MEMBER_TOKEN_PURPOSE, member.id, member.token_version, ttl), ttl


async def revoke_member_tokens(member: Member) -> None:
    """Every token issued to this member so far stops working."""
    await Member.filter(id=member.id).update(token_version=F("token_version") + 1)


def _login_refusals() -> dict[int, DomainError]:
    return {
        40029: Unauthorized(
            "The login code is not valid; call wx.login again.", code="invalid_code"
        ),
        40163: Unauthorized(
            "The login code was already used; call wx.login again.", code="code_used"
        ),
        40226: Forbidden("WeChat blocked this login as risky.", code="login_blocked"),
    }


async def _find_or_create(
    openid: str, unionid: str | None, session_key_enc: str | None
) -> tuple[Member, bool]:
    fields: dict[str, Any] = {"session_key_enc": session_key_enc}
    if unionid:
        fields["unionid"] = unionid
    member = await Member.get_or_none(openid=openid)
    if member is None:
        try:
            return await Member.create(openid=openid, **fields), True
        except IntegrityError:  # a concurrent first login of the same openid won
            member = await Member.get(openid=openid)
    await Member.filter(id=member.id).update(**fields)
    for key, value in fields.items():
        setattr(member, key, value)
    return member, False


async def login(services: Services, code: str, client_ip: str) -> LoginResult:
    """Log a member in with a `wx.login` code; 401 `invalid_code` / `code_used`, 429, 503."""
    limit = services.config.security.login_attempts_per_minute
    await enforce(services.redis, f"mlogin:ip:{client_ip}", limit * IP_LIMIT_FACTOR, 60)
    code_key = hashlib.sha256(code.encode()).hexdigest()[:32]
    await enforce(services.redis, f"mlogin:code:{code_key}", CODE_ATTEMPTS, CODE_WINDOW_SECONDS)
    try:
        answer = await services.miniapp.code2session(code)
    except WeChatError as exc:
        raise wechat_refusal(exc, _login_refusals()) from None
    openid = answer.get("openid")
    if not isinstance(openid, str) or not openid:
        log.warning("code2session answer without openid")
        raise UpstreamUnavailable("WeChat gave no identity.", code="wechat_unavailable")
    unionid = answer.get("unionid")
    session_key = answer.get("session_key")
    session_key_enc = services.cipher.encrypt(session_key) if isinstance(session_key, str) else None
    member, created = await _find_or_create(
        openid, unionid if isinstance(unionid, str) else None, session_key_enc
    )
    await member.fetch_related("tier")
    token, ttl = issue_member_token(services, member)
    log.info("member logged in", extra={"member_id": member.id, "new_member": created})
    return LoginResult(token=token, expires_in=ttl, member=member, created=created)


async def logout(member: Member) -> None:
    """End every session of the member (all devices)."""
    await revoke_member_tokens(member)
