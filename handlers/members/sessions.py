"""Member sessions: WeChat login, session tokens, logout.

`login` exchanges a `wx.login` code with WeChat (code2session), finds the member by openid or
creates them (the unique openid column settles concurrent first logins), and issues a signed
token that names only the member id and their token version: neither the openid nor the
session_key ever leave the server. The session_key is kept encrypted, because WeChat's
encrypted open data can only be read with the latest one.

Login is rate-limited before WeChat is asked: per client address (generous, as a shop's Wi-Fi
puts many members behind one address), per code, and then for everyone together under a much
higher ceiling that keeps code2session within WeChat's quota. Junk codes from one address use
up that address's budget, never another address's.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Any

from tortoise.expressions import F

from handlers.members.cards import wechat_refusal
from wxmember.core.context import Services
from wxmember.core.errors import DomainError, Forbidden, Unauthorized, UpstreamUnavailable
from wxmember.core.kernel import MEMBER_WITH_TIER, insert_once
from wxmember.core.member_cache import changed
from wxmember.core.models import Member
from wxmember.core.ratelimit import enforce
from wxmember.core.wechat import WeChatError

log = logging.getLogger(__name__)

MEMBER_TOKEN_PURPOSE = "member"
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
    changed(member.id)


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


async def member_for_openid(
    openid: str, unionid: str | None = None, session_key_enc: str | None = None
) -> tuple[Member, bool]:
    """The member of a mini-program openid, created on first sight; and whether it was new."""
    fields: dict[str, Any] = {"session_key_enc": session_key_enc}
    if unionid:
        fields["unionid"] = unionid
    member = await Member.get_or_none(openid=openid)
    if member is None:
        created = await insert_once(Member, None, openid=openid, **fields)
        if created is not None:
            return created, True
        member = await Member.get(openid=openid)  # a concurrent first login of this openid won
    await Member.filter(id=member.id).update(**fields)
    changed(member.id)
    for key, value in fields.items():
        setattr(member, key, value)
    return member, False


async def _check_login_limits(services: Services, code: str, client_address: str) -> None:
    """429 past the address's, the code's or everyone's budget (counted in that order).

    Without Redis members still log in: a code is good once at WeChat, which keeps its own
    quota of code2session calls, so nothing is guessed while the limits are not counted."""
    security = services.config.security
    redis = services.redis
    per_address = security.member_logins_per_address_per_minute
    await enforce(redis, f"mlogin:ip:{client_address}", per_address, 60, fail_open=True)
    code_key = hashlib.sha256(code.encode()).hexdigest()[:32]
    await enforce(
        redis, f"mlogin:code:{code_key}", CODE_ATTEMPTS, CODE_WINDOW_SECONDS, fail_open=True
    )
    await enforce(redis, "mlogin:all", security.member_logins_per_minute, 60, fail_open=True)


async def login(services: Services, code: str, client_address: str) -> LoginResult:
    """Log a member in with a `wx.login` code; 401 `invalid_code` / `code_used`, 429, 503."""
    await _check_login_limits(services, code, client_address)
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
    member, created = await member_for_openid(
        openid, unionid if isinstance(unionid, str) else None, session_key_enc
    )
    await member.fetch_related("tier")
    token, ttl = issue_member_token(services, member)
    log.info("member logged in", extra={"member_id": member.id, "new_member": created})
    return LoginResult(token=token, expires_in=ttl, member=member, created=created)


async def authenticate(services: Services, token: str | None) -> Member:
    """The live member a session token belongs to, with their tier; 401 otherwise.

    `missing_token` without one; `invalid_token` once logged out, deleted, expired or forged.
    """
    if token is None:
        raise Unauthorized("Log in first.", code="missing_token")
    claims = services.tokens.verify(token, MEMBER_TOKEN_PURPOSE)
    member = await services.members.get(claims.subject, MEMBER_WITH_TIER.get)
    if member is None or member.deleted_at is not None or member.token_version != claims.version:
        raise Unauthorized("The session has ended; log in again.", code="invalid_token")
    return member


async def logout(member: Member) -> None:
    """End every session of the member (all devices)."""
    await revoke_member_tokens(member)
