"""Finding a font that draws Chinese: the configured one, else the usual system locations.

A member's name is usually Chinese; drawn with a Latin font it comes out as a row of boxes.
`card_font_path()` returns the first font that really has CJK glyphs, checked by drawing one,
or None, in which case the card face falls back to Pillow's built-in font and a warning is
logged once per process.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

log = logging.getLogger(__name__)

SYSTEM_CJK_FONTS: tuple[str, ...] = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/wenquanyi/wqy-microhei/wqy-microhei.ttc",
    "/System/Library/Fonts/PingFang.ttc",
    "/System/Library/Fonts/STHeiti Medium.ttc",
    "C:/Windows/Fonts/msyh.ttc",
    "C:/Windows/Fonts/simhei.ttf",
)

# A character every CJK font has, and one that no font has (the last code point of plane 16).
PROBE_CHAR = "会"
MISSING_CHAR = "\U0010fffd"


def glyph_bitmap(font: ImageFont.FreeTypeFont | ImageFont.ImageFont, char: str) -> bytes:
    """The pixels of one character drawn on a small canvas, to compare glyphs."""
    canvas = Image.new("L", (64, 64))
    ImageDraw.Draw(canvas).text((8, 8), char, font=font, fill=255)
    return canvas.tobytes()


def draws_cjk(path: str) -> bool:
    """Whether the font file at `path` opens and draws a CJK character as a real glyph."""
    try:
        font = ImageFont.truetype(path, 32)
    except OSError:
        return False
    return glyph_bitmap(font, PROBE_CHAR) != glyph_bitmap(font, MISSING_CHAR)


@functools.lru_cache(maxsize=8)
def card_font_path(
    configured: str = "", candidates: tuple[str, ...] = SYSTEM_CJK_FONTS
) -> str | None:
    """The first usable CJK font: `configured` first, then `candidates`; warns once if none."""
    if configured:
        if Path(configured).is_file() and draws_cjk(configured):
            return configured
        log.warning(
            "brand.font_path does not name a font with Chinese glyphs; looking for a system font",
            extra={"font_path": configured},
        )
    for candidate in candidates:
        if Path(candidate).is_file() and draws_cjk(candidate):
            return candidate
    log.warning(
        "no CJK font found: Chinese names on card faces will show as boxes; "
        "install fonts-wqy-microhei or set brand.font_path"
    )
    return None


@functools.lru_cache(maxsize=32)
def load_font(path: str | None, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """The font at `path` in `size` pixels, or Pillow's built-in font when there is none."""
    if path is None:
        return ImageFont.load_default(size)
    return ImageFont.truetype(path, size)
