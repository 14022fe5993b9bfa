"""Operator accounts: creation, login, logout, role and status changes.

Usernames are compared without regard to case: `canonical_username` is the one rule, applied
when an account is created (it is stored in that form, so the unique column refuses `Owner`
beside `owner`), when someone logs in and in the login limits.

Login limits count failed attempts only, per (username, client address) and per client address
across usernames (credential stuffing): an attacker who exhausts the budget for `owner` from
one address does not lock the owner out at their own address, and a successful login gives
its unit back. Each attempt reserves its units before the password is checked, so concurrent
guesses cannot exceed the budget either.
"""

from __future__ import annotations

import logging
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from handlers import audit
from wxmember.core.context import Services
from wxmember.core.errors import Conflict, NotFound, Unauthorized, ValidationFailed
from wxmember.core.models import Operator, Role
from wxmember.core.prepared import RowsBy
from wxmember.core.ratelimit import release, reserve, too_many
from wxmember.core.security import (
    TokenSigner,
    dummy_password_hash,
    hash_password,
    verify_password,
)

log = logging.getLogger(__name__)

TOKEN_PURPOSE = "operator"
MIN_PASSWORD_LENGTH = 10
LOGIN_WINDOW_SECONDS = 60


def canonical_username(raw: str) -> str:
    """A username as it is stored and compared: trimmed and lower-cased (`Owner` is `owner`)."""
    return raw.strip().lower()


async def operator_by_username(username: str) -> Operator | None:
    """The account of a username, whatever its case."""
    canonical = canonical_username(username)
    operator = await Operator.get_or_none(username=canonical)
    if operator is None:  # an account stored before usernames were kept lower-case
        operator = await Operator.filter(username__iexact=canonical).order_by("id").first()
    return operator


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(
            f"The password needs at least {MIN_PASSWORD_LENGTH} characters.",
            code="weak_password",
        )


def public(operator: Operator) -> dict[str, Any]:
    """What an operator record shows in the API and the audit log (never the hash)."""
    return {
        "id": operator.id,
        "username": operator.username,
        "display_name": operator.display_name,
        "role": Role(operator.role).value,
        "active": operator.active,
    }


async def create_operator(
    username: str, password: str, role: Role, display_name: str = "", actor: Operator | None = None
) -> Operator:
    """Create a staff account; audited when an operator (not the CLI) creates it.

    409 `username_taken` when the username exists in any case.
    """
    _check_password(password)
    canonical = canonical_username(username)
    taken = Conflict(f"The username {canonical!r} is taken.", code="username_taken")
    if await operator_by_username(canonical) is not None:
        raise taken
    try:
        async with in_transaction() as conn:
            operator = await Operator.create(
                username=canonical,
                display_name=display_name or username.strip(),
                password_hash=hash_password(password),
                role=role,
                using_db=conn,
            )
            if actor is not None:
                await audit.record(
                    actor,
                    "operator.create",
                    "operator",
                    operator.id,
                    after=public(operator),
                    using_db=conn,
                )
    except IntegrityError:
        raise taken from None
    return operator


async def _reserve_login_attempt(
    services: Services, username: str, client_address: str
) -> list[str]:
    """Take one unit of each login budget; 429 (nothing taken) when one is spent."""
    security = services.config.security
    budgets = (
        (f"oplogin:user:{username}:{client_address}", security.login_attempts_per_minute),
        (f"oplogin:ip:{client_address}", security.staff_login_failures_per_address_per_minute),
    )
    slots: list[str] = []
    for key, limit in budgets:
        slot = await reserve(services.redis, key, limit, LOGIN_WINDOW_SECONDS)
        if slot is None:
            for taken in slots:
                await release(services.redis, taken, LOGIN_WINDOW_SECONDS)
            raise too_many()
        slots.append(slot)
    return slots


async def login(
    services: Services, username: str, password: str, client_address: str
) -> tuple[str, Operator]:
    """Check the password and issue an operator token; 401 `invalid_credentials`, 429.

    Only failures count against the limits (module doc).
    """
    username = canonical_username(username)
    slots = await _reserve_login_attempt(services, username, client_address)
    operator = await operator_by_username(username)
    stored = operator.password_hash if operator else dummy_password_hash()
    if not verify_password(stored, password) or operator is None or not operator.active:
        log.warning("operator login failed", extra={"username": username, "client": client_address})
        raise Unauthorized("Wrong username or password.", code="invalid_credentials")
    for slot in slots:
        await release(services.redis, slot, LOGIN_WINDOW_SECONDS)
    token = services.tokens.sign(
        TOKEN_PURPOSE,
        operator.id,
        operator.token_version,
        services.config.security.operator_ttl_seconds,
    )
    return token, operator


_BY_ID = RowsBy(Operator, "id", limit=1)


async def authenticate(tokens: TokenSigner, token: str | None) -> Operator:
    """The active operator a token belongs to; 401 if missing, revoked, expired or forged."""
    if token is None:
        raise Unauthorized("Log in first.", code="missing_token")
    claims = tokens.verify(token, TOKEN_PURPOSE)
    operator = await _BY_ID.first(None, claims.subject)
    if operator is None or not operator.active or operator.token_version != claims.version:
        raise Unauthorized("The session has ended; log in again.", code="invalid_token")
    return operator


async def logout(operator: Operator) -> None:
    """End every session of the operator (all devices): their tokens stop working (audited)."""
    async with in_transaction() as conn:
        await (
            Operator.filter(id=operator.id)
            .using_db(conn)
            .update(token_version=F("token_version") + 1)
        )
        await audit.record(
            operator,
            "operator.logout",
            "operator",
            operator.id,
            after={"sessions": "ended"},
            using_db=conn,
        )


async def update_operator(
    actor: Operator,
    operator_id: int,
    *,
    role: Role | None = None,
    active: bool | None = None,
    password: str | None = None,
) -> Operator:
    """Change an account's role, status or password; any change revokes its tokens."""
    if password is not None:
        _check_password(password)
    async with in_transaction() as conn:
        operator = await Operator.select_for_update().using_db(conn).get_or_none(id=operator_id)
        if operator is None:
            raise NotFound("No such operator.", code="operator_not_found")
        if operator.id == actor.id and (role not in (None, Role.OWNER) or active is False):
            raise Conflict("Owners cannot demote or disable themselves.", code="self_lockout")
        before = public(operator)
        if role is not None:
            operator.role = role
        if active is not None:
            operator.active = active
        if password is not None:
            operator.password_hash = hash_password(password)
        operator.token_version += 1
        await operator.save(using_db=conn)
        after = public(operator) | ({"password": "changed"} if password is not None else {})
        await audit.record(
            actor,
            "operator.update",
            "operator",
            operator.id,
            before=before,
            after=after,
            using_db=conn,
        )
    return operator


async def change_own_password(operator: Operator, current: str, new: str) -> Operator:
    """A staff member changes their own password (any role); the current one must be given.

    Every session of theirs ends, this one included (audited without the passwords).
    """
    if not verify_password(operator.password_hash, current):
        raise Unauthorized("The current password is wrong.", code="invalid_credentials")
    return await update_operator(operator, operator.id, password=new)


async def list_operators() -> list[Operator]:
    return await Operator.all().order_by("id")
