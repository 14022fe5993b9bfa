"""The card face: layout colours, a real CJK font, the fallback without one."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import cast

import pytest
import segno
from PIL import Image, ImageChops, ImageDraw, ImageFont

from cards.face import (
    BAND_HEIGHT,
    HEIGHT,
    MARGIN,
    QR_BORDER,
    QR_BOX,
    WIDTH,
    CardFace,
    _qr_image,
    hex_to_rgb,
    render_card_face,
)
from cards.fonts import MISSING_CHAR, SYSTEM_CJK_FONTS, card_font_path, draws_cjk, load_font

WQY = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"
LATIN_ONLY = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
NAME = "张三丰"

FACE = CardFace(
    brand_name="测试品牌",
    brand_color="#1F2937",
    accent_color="#D4A017",
    tier_name="金卡会员",
    tier_color="#3B82F6",
    member_name=NAME,
    card_no="8123456789012345",
    qr_payload="WXMCARD:8123456789012345",
)
# where the member's name is drawn
NAME_BOX = (MARGIN, BAND_HEIGHT + 40, WIDTH - MARGIN, BAND_HEIGHT + 160)


def _image(png: bytes) -> Image.Image:
    return Image.open(io.BytesIO(png)).convert("RGB")


def _draw(font: ImageFont.FreeTypeFont, char: str) -> Image.Image:
    canvas = Image.new("L", (400, 120))
    ImageDraw.Draw(canvas).text((8, 8), char, font=font, fill=255)
    return canvas


def _colours(image: Image.Image) -> list[tuple[int, int, int]]:
    """Every colour in the image, most frequent first."""
    # Pillow types an image's colours for any mode; an RGB image's are (r, g, b)
    counted = cast(
        list[tuple[int, tuple[int, int, int]]], image.getcolors(image.width * image.height) or []
    )
    return [colour for _, colour in sorted(counted, key=lambda item: -item[0])]


def _dominant(image: Image.Image) -> tuple[int, int, int]:
    return _colours(image)[0]


class TestFonts:
    def test_the_installed_cjk_font_is_found(self) -> None:
        assert card_font_path() == WQY

    def test_chinese_glyphs_are_real_not_boxes(self) -> None:
        font = ImageFont.truetype(card_font_path() or "", 64)
        # the inked area of the name differs from that of as many missing-glyph boxes
        name_ink = _draw(font, NAME).getbbox()
        boxes_ink = _draw(font, MISSING_CHAR * len(NAME)).getbbox()
        assert name_ink is not None and boxes_ink is not None
        assert name_ink != boxes_ink
        # and every character is a glyph of its own, not the missing-glyph box
        missing = _draw(font, MISSING_CHAR)
        for char in NAME:
            assert ImageChops.difference(_draw(font, char), missing).getbbox() is not None, char

    def test_a_latin_font_is_not_taken_for_a_cjk_one(self) -> None:
        assert draws_cjk(WQY)
        assert not draws_cjk(LATIN_ONLY)
        assert not draws_cjk("/nonexistent/font.ttf")

    def test_configured_font_comes_first(self) -> None:
        assert card_font_path(WQY, candidates=()) == WQY

    def test_unusable_configured_font_falls_back_to_the_system(
        self, log_lines: Callable[[], str]
    ) -> None:
        card_font_path.cache_clear()
        assert card_font_path(LATIN_ONLY, SYSTEM_CJK_FONTS) == WQY
        assert "brand.font_path does not name a font with Chinese glyphs" in log_lines()

    def test_no_font_warns_once(self, log_lines: Callable[[], str]) -> None:
        card_font_path.cache_clear()
        assert card_font_path("", candidates=("/nonexistent/font.ttc",)) is None
        assert card_font_path("", candidates=("/nonexistent/font.ttc",)) is None
        assert log_lines().count("no CJK font found") == 1


class TestRender:
    def test_png_of_the_card_size_in_the_tier_colour(self) -> None:
        image = _image(render_card_face(FACE, WQY))
        assert image.size == (WIDTH, HEIGHT)
        assert _dominant(image) == hex_to_rgb(FACE.tier_color)
        assert _dominant(image.crop((0, 0, WIDTH, BAND_HEIGHT))) == hex_to_rgb(FACE.brand_color)
        # the tier's colour follows the tier
        red = CardFace(**{**FACE.__dict__, "tier_color": "#B91C1C"})
        assert _dominant(_image(render_card_face(red, WQY))) == hex_to_rgb("#B91C1C")

    def test_name_is_drawn_with_real_glyphs(self) -> None:
        boxes = CardFace(**{**FACE.__dict__, "member_name": MISSING_CHAR * len(NAME)})
        with_name = _image(render_card_face(FACE, WQY)).crop(NAME_BOX)
        with_boxes = _image(render_card_face(boxes, WQY)).crop(NAME_BOX)
        assert ImageChops.difference(with_name, with_boxes).getbbox() is not None
        # and the name is there at all: ink of the text colour in the name's area
        assert len(_colours(with_name)) > 2

    def test_light_tier_gets_dark_text(self) -> None:
        light = CardFace(**{**FACE.__dict__, "tier_color": "#F3F4F6"})
        name_area = _image(render_card_face(light, WQY)).crop(NAME_BOX)
        darkest = min(_colours(name_area), key=sum)
        assert sum(darkest) < 200

    def test_long_name_shrinks_to_fit(self) -> None:
        long = CardFace(**{**FACE.__dict__, "member_name": "欧" * 32})
        image = _image(render_card_face(long, WQY))
        right_edge = image.crop((WIDTH - MARGIN + 4, BAND_HEIGHT + 40, WIDTH, BAND_HEIGHT + 160))
        assert _colours(right_edge) == [hex_to_rgb(FACE.tier_color)]

    def test_qr_code_holds_the_face_payload_not_the_bare_number(self) -> None:
        image = _image(render_card_face(FACE, WQY)).convert("L")
        rows = [
            list(row)
            for row in segno.make(FACE.qr_payload, error="m", micro=False).matrix_iter(border=2)
        ]
        inner = QR_BOX - 20
        scale = inner // len(rows)
        origin_x = WIDTH - MARGIN - QR_BOX + 10 + (inner - scale * len(rows)) // 2
        origin_y = HEIGHT - MARGIN - QR_BOX + 10 + (inner - scale * len(rows)) // 2
        for y, row in enumerate(rows):
            for x, dark in enumerate(row):
                centre = (origin_x + x * scale + scale // 2, origin_y + y * scale + scale // 2)
                pixel = image.getpixel(centre)
                assert isinstance(pixel, int)
                assert (pixel < 128) == bool(dark), (x, y)

    @pytest.mark.parametrize("length", [1, 24, 80, 300])
    @pytest.mark.parametrize("size", [190, 30])
    def test_qr_code_has_the_pixels_of_segnos_own_png(self, length: int, size: int) -> None:
        data = ("WXMCARD:8123456789012345?n=" * 12)[:length]
        qr = segno.make(data, error="m", micro=False)
        modules = qr.symbol_size(scale=1, border=QR_BORDER)[0]
        written = io.BytesIO()
        qr.save(written, kind="png", scale=max(1, size // modules), border=QR_BORDER)
        code = Image.open(io.BytesIO(written.getvalue())).convert("RGB")
        expected = Image.new("RGB", (size, size), (255, 255, 255))
        expected.paste(code, ((size - code.width) // 2, (size - code.height) // 2))
        assert _qr_image(data, size).tobytes() == expected.tobytes()

    def test_renders_without_any_font(self) -> None:
        image = _image(render_card_face(FACE, None))
        assert image.size == (WIDTH, HEIGHT)

    @pytest.mark.parametrize("size", [12, 48])
    def test_fonts_are_loaded_once_per_size(self, size: int) -> None:
        assert load_font(WQY, size) is load_font(WQY, size)
