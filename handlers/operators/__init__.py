"""Staff accounts: creation, login, logout, role and status changes."""

from __future__ import annotations

from handlers.operators.accounts import (
    authenticate,
    canonical_username,
    change_own_password,
    create_operator,
    list_operators,
    login,
    logout,
    operator_by_username,
    public,
    update_operator,
)

__all__ = [
    "authenticate",
    "canonical_username",
    "change_own_password",
    "create_operator",
    "list_operators",
    "login",
    "logout",
    "operator_by_username",
    "public",
    "update_operator",
]
