"""The base of every success-body model: a pydantic model that refuses unknown fields."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Answer(BaseModel):
    """A success body; each model mirrors exactly the dict its builder makes."""

    model_config = ConfigDict(extra="forbid")
