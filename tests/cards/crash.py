"""A card face drawing that kills the worker process drawing it (for the pool's tests)."""

from __future__ import annotations

import os

from cards.face import CardFace


def die_drawing(face: CardFace, font_path: str | None) -> bytes:
    os._exit(70)
