"""The card face: a PNG drawn with Pillow from the brand, the tier and the member.

Layout (1000 x 630, the ISO/IEC 7810 ID-1 proportions of a bank card):

    +--------------------------------------------------------+
    | BRAND NAME (accent on brand primary)       ( TIER )    |   brand band
    +--------------------------------------------------------+
    |  Member name                                           |
    |                                                        |   tier colour
    |  CARD NO                                    +-------+  |
    |  8123 4567 8901 2345                        |  QR   |  |
    +---------------------------------------------+-------+--+

The QR code holds `qr_payload` (`brand.card_qr` filled with the card number, see
`handlers.members.numbers.card_face_payload`), never the bare number: the till refuses it by
default, because a picture of a card face works forever; cashiers scan the dynamic member code.

CPU work: call `render_card_face` in a worker process (`services.cpu.run`), never on the
event loop.
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass

import segno
from PIL import Image, ImageDraw, ImageFont, ImageOps

from cards.fonts import load_font
from handlers.members.numbers import group_card_number

WIDTH = 1000
HEIGHT = 630
BAND_HEIGHT = 130
MARGIN = 48
QR_BOX = 210
RENDER_VERSION = 1  # bump when the layout changes, so cached faces are drawn again

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont
RGB = tuple[int, int, int]

# FreeType faces are shared between render threads; drawing with one is not thread-safe.
_render_lock = threading.Lock()


@dataclass(frozen=True)
class CardFace:
    """Everything printed on a card face."""

    brand_name: str
    brand_color: str
    accent_color: str
    tier_name: str
    tier_color: str
    member_name: str
    card_no: str
    qr_payload: str


def hex_to_rgb(value: str) -> RGB:
    raw = value.lstrip("#")
    return int(raw[0:2], 16), int(raw[2:4], 16), int(raw[4:6], 16)


def _luminance(color: RGB) -> float:
    r, g, b = (c / 255 for c in color)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def text_color_on(background: RGB) -> RGB:
    """Near-black on light backgrounds, white on dark ones."""
    return (17, 24, 39) if _luminance(background) > 0.6 else (255, 255, 255)


def _fit(
    draw: ImageDraw.ImageDraw, text: str, font_path: str | None, size: int, width: int
) -> Font:
    """The largest font up to `size` (down to a third of it) in which `text` fits `width`."""
    smallest = max(12, size // 3)
    while size > smallest:
        font = load_font(font_path, size)
        if draw.textlength(text, font=font) <= width:
            return font
        size -= 4
    return load_font(font_path, smallest)


# A QR module as a greyscale pixel: dark (1) black, light (0) white.
_MODULE_SHADES = bytes([255, 0]) + bytes(254)
QR_BORDER = 2  # light modules around the code


def _qr_image(data: str, size: int) -> Image.Image:
    """The QR code of `data`, a whole number of pixels per module, centred in `size`.

    Drawn from the code's modules, scaled up by whole pixels: the same pixels as segno's own PNG
    read back, without writing and decoding one (1 ms of a face's 15-18 ms; segno's choice of
    the mask pattern takes most of the rest of the code's 4 ms, and stays)."""
    qr = segno.make(data, error="m", micro=False)
    width = len(qr.matrix)
    modules = width + 2 * QR_BORDER
    scale = max(1, size // modules)
    code = Image.frombytes("L", (width, width), b"".join(qr.matrix).translate(_MODULE_SHADES))
    code = ImageOps.expand(code, QR_BORDER, fill=255)
    code = code.resize((modules * scale, modules * scale), Image.Resampling.NEAREST)
    box = Image.new("RGB", (size, size), (255, 255, 255))
    box.paste(code.convert("RGB"), ((size - code.width) // 2, (size - code.height) // 2))
    return box


def render_card_face(face: CardFace, font_path: str | None) -> bytes:
    """The card face as PNG bytes (blocking: run it in a thread)."""
    with _render_lock:
        return _render(face, font_path)


def _render(face: CardFace, font_path: str | None) -> bytes:
    tier_rgb = hex_to_rgb(face.tier_color)
    brand_rgb = hex_to_rgb(face.brand_color)
    accent_rgb = hex_to_rgb(face.accent_color)
    ink = text_color_on(tier_rgb)

    image = Image.new("RGB", (WIDTH, HEIGHT), tier_rgb)
    draw = ImageDraw.Draw(image)

    # brand band with the brand name, the tier as a pill on its right
    draw.rectangle((0, 0, WIDTH, BAND_HEIGHT), fill=brand_rgb)
    pill_font = load_font(font_path, 34)
    pill_text_width = draw.textlength(face.tier_name, font=pill_font)
    pill_width = int(pill_text_width) + 56
    pill = (WIDTH - MARGIN - pill_width, 36, WIDTH - MARGIN, BAND_HEIGHT - 36)
    draw.rounded_rectangle(pill, radius=29, fill=tier_rgb, outline=accent_rgb, width=3)
    draw.text(
        ((pill[0] + pill[2]) / 2, (pill[1] + pill[3]) / 2),
        face.tier_name,
        font=pill_font,
        fill=ink,
        anchor="mm",
    )
    brand_width = pill[0] - 2 * MARGIN
    brand_font = _fit(draw, face.brand_name, font_path, 48, brand_width)
    draw.text(
        (MARGIN, BAND_HEIGHT / 2), face.brand_name, font=brand_font, fill=accent_rgb, anchor="lm"
    )

    # the member's name
    name_font = _fit(draw, face.member_name, font_path, 72, WIDTH - 2 * MARGIN)
    draw.text((MARGIN, BAND_HEIGHT + 60), face.member_name, font=name_font, fill=ink, anchor="lt")

    # card number, grouped by four, and its QR code
    qr_left = WIDTH - MARGIN - QR_BOX
    qr_top = HEIGHT - MARGIN - QR_BOX
    number_font = _fit(draw, group_card_number(face.card_no), font_path, 50, qr_left - 2 * MARGIN)
    draw.text(
        (MARGIN, HEIGHT - MARGIN - 20),
        group_card_number(face.card_no),
        font=number_font,
        fill=ink,
        anchor="ls",
    )
    draw.rounded_rectangle(
        (qr_left, qr_top, qr_left + QR_BOX, qr_top + QR_BOX), radius=16, fill=(255, 255, 255)
    )
    qr_size = QR_BOX - 20
    image.paste(_qr_image(face.qr_payload, qr_size), (qr_left + 10, qr_top + 10))

    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False)
    return out.getvalue()
