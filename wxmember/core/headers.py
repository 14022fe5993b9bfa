"""Request headers a route reads, each declared once with its rule.

A route lists them with `headers=` (`wxmember.core.endpoints.Routes`): the rule checks the
header before the view runs, the view receives the value as a keyword argument, and the API
document publishes the same rule.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from wxmember.core.errors import ValidationFailed


@dataclass(frozen=True)
class Header:
    """One header: its characters and length, whether it must be sent, the code of a refusal."""

    name: str
    argument: str
    characters: str
    min_length: int
    max_length: int
    required: bool
    code: str
    description: str

    @property
    def pattern(self) -> str:
        return f"^{self.characters}{{{self.min_length},{self.max_length}}}$"

    def read(self, raw: str | None) -> str | None:
        """The header's value, None when it is optional and absent; 400 `code` otherwise."""
        if raw is None or raw == "":
            if self.required:
                raise ValidationFailed(f"Send an {self.name} header.", code=self.code)
            return None
        if not re.fullmatch(self.pattern, raw, re.ASCII):
            raise ValidationFailed(
                f"The {self.name} must be {self.min_length} to {self.max_length} "
                f"of {self.characters}.",
                code=self.code,
            )
        return raw

    def schema(self) -> dict[str, object]:
        return {
            "type": "string",
            "minLength": self.min_length,
            "maxLength": self.max_length,
            "pattern": self.pattern,
        }


STAFF_IDEMPOTENCY_KEY = Header(
    name="Idempotency-Key",
    argument="idempotency_key",
    characters="[A-Za-z0-9._:-]",
    min_length=1,
    max_length=64,
    required=False,
    code="invalid_idempotency_key",
    description="Optional. Chosen by the client per intended change: a retry with the same key "
    "makes the change once. Without it, every call makes a change.",
)
