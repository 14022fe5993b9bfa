"""Staff accounts: creation, login, role and status changes."""

from __future__ import annotations

from handlers.operators.accounts import (
    authenticate,
    create_operator,
    list_operators,
    login,
    public,
    update_operator,
)

__all__ = [
    "authenticate",
    "create_operator",
    "list_operators",
    "login",
    "public",
    "update_operator",
]
