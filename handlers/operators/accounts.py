"""Operator accounts: creation, login, role and status changes."""

from __future__ import annotations

from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from handlers import audit
from wxmember.core.context import Services
from wxmember.core.errors import Conflict, NotFound, Unauthorized, ValidationFailed
from wxmember.core.models import Operator, Role
from wxmember.core.ratelimit import enforce
from wxmember.core.security import (
    TokenSigner,
    dummy_password_hash,
    hash_password,
    verify_password,
)

TOKEN_PURPOSE = "operator"
MIN_PASSWORD_LENGTH = 10


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
    """Create a staff account; audited when an operator (not the CLI) creates it."""
    _check_password(password)
    try:
        async with in_transaction() as conn:
            operator = await Operator.create(
                username=username,
                display_name=display_name or username,
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
        raise Conflict(f"The username {username!r} is taken.", code="username_taken") from None
    return operator


async def login(
    services: Services, username: str, password: str, client_ip: str
) -> tuple[str, Operator]:
    """Check the password (rate-limited per username and per IP) and issue an operator token."""
    limit = services.config.security.login_attempts_per_minute
    await enforce(services.redis, f"oplogin:user:{username.lower()}", limit, 60)
    await enforce(services.redis, f"oplogin:ip:{client_ip}", limit * 5, 60)
    operator = await Operator.get_or_none(username=username)
    stored = operator.password_hash if operator else dummy_password_hash()
    if not verify_password(stored, password) or operator is None or not operator.active:
        raise Unauthorized("Wrong username or password.", code="invalid_credentials")
    token = services.tokens.sign(
        TOKEN_PURPOSE,
        operator.id,
        operator.token_version,
        services.config.security.operator_ttl_seconds,
    )
    return token, operator


async def authenticate(tokens: TokenSigner, token: str | None) -> Operator:
    """The active operator a token belongs to; 401 if missing, revoked, expired or forged."""
    if token is None:
        raise Unauthorized("Log in first.", code="missing_token")
    claims = tokens.verify(token, TOKEN_PURPOSE)
    operator = await Operator.get_or_none(id=claims.subject)
    if operator is None or not operator.active or operator.token_version != claims.version:
        raise Unauthorized("The session has ended; log in again.", code="invalid_token")
    return operator


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


async def list_operators() -> list[Operator]:
    return await Operator.all().order_by("id")
