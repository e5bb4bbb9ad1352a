"""Typed views of the few cairocffi objects the chart uses (cairocffi ships no type information).

Everything that touches cairocffi directly goes through these helpers, so the rest of the package is checked.
"""

from __future__ import annotations

from typing import IO, Protocol, cast

import cairocffi

__all__ = [
    "ANTIALIAS_GRAY",
    "ANTIALIAS_NONE",
    "EXTEND_REPEAT",
    "FORMAT_A8",
    "FORMAT_ARGB32",
    "OPERATOR_CLEAR",
    "OPERATOR_OVER",
    "OPERATOR_SOURCE",
    "Context",
    "FontFace",
    "ImageSurface",
    "SurfacePattern",
    "fallback_face",
    "glyph_index",
    "is_context",
    "is_image_surface",
    "new_context",
    "new_image",
    "new_surface_pattern",
    "set_hinted_font",
    "set_pattern_offset",
    "show_glyphs",
    "show_text_in",
]

FORMAT_ARGB32: int = cairocffi.FORMAT_ARGB32
FORMAT_A8: int = cairocffi.FORMAT_A8
OPERATOR_CLEAR: int = cairocffi.OPERATOR_CLEAR
OPERATOR_SOURCE: int = cairocffi.OPERATOR_SOURCE
OPERATOR_OVER: int = cairocffi.OPERATOR_OVER
EXTEND_REPEAT: int = cairocffi.EXTEND_REPEAT
ANTIALIAS_GRAY: int = cairocffi.ANTIALIAS_GRAY
ANTIALIAS_NONE: int = cairocffi.ANTIALIAS_NONE


class ImageSurface(Protocol):
    def get_data(self) -> memoryview: ...
    def get_stride(self) -> int: ...
    def get_width(self) -> int: ...
    def get_height(self) -> int: ...
    def flush(self) -> None: ...
    def mark_dirty(self) -> None: ...
    def write_to_png(self, target: str | IO[bytes]) -> None: ...


class FontFace(Protocol):
    """A cairo font face (opaque here)."""


class SurfacePattern(Protocol):
    def set_extend(self, extend: int) -> None: ...


class Context(Protocol):
    def get_target(self) -> ImageSurface: ...
    def save(self) -> None: ...
    def restore(self) -> None: ...
    def translate(self, tx: float, ty: float) -> None: ...
    def rectangle(self, x: float, y: float, width: float, height: float) -> None: ...
    def clip(self) -> None: ...
    def reset_clip(self) -> None: ...
    def fill(self) -> None: ...
    def paint(self) -> None: ...
    def set_operator(self, operator: int) -> None: ...
    def set_source_rgba(self, red: float, green: float, blue: float, alpha: float = 1.0) -> None: ...
    def set_source_surface(self, surface: ImageSurface, x: float = 0, y: float = 0) -> None: ...
    def set_source(self, source: SurfacePattern) -> None: ...
    def mask_surface(self, surface: ImageSurface, surface_x: float = 0, surface_y: float = 0) -> None: ...
    def move_to(self, x: float, y: float) -> None: ...
    def show_text(self, text: str) -> None: ...
    def select_font_face(self, family: str = "", slant: int = 0, weight: int = 0) -> None: ...
    def set_font_size(self, size: float) -> None: ...
    def text_extents(self, text: str) -> tuple[float, float, float, float, float, float]: ...


def new_image(fmt: int, width_px: int, height_px: int) -> ImageSurface:
    """A zero-filled (transparent) image surface."""
    return cast(ImageSurface, cairocffi.ImageSurface(fmt, width_px, height_px))


def new_context(target: ImageSurface) -> Context:
    return cast(Context, cairocffi.Context(target))


def new_surface_pattern(surface: ImageSurface) -> SurfacePattern:
    return cast(SurfacePattern, cairocffi.SurfacePattern(surface))


def set_pattern_offset(pattern: SurfacePattern, x_px: float, y_px: float) -> None:
    """Make user-space (0, 0) read the pattern's pixel at (``x_px``, ``y_px``)."""
    cast(cairocffi.SurfacePattern, pattern).set_matrix(cairocffi.Matrix(x0=x_px, y0=y_px))


def is_context(target: object) -> bool:
    return isinstance(target, cairocffi.Context)


def is_image_surface(target: object) -> bool:
    return isinstance(target, cairocffi.ImageSurface)


def glyph_index(ctx: Context, char: str) -> int:
    """The current font's glyph for ``char`` (the font's "missing" glyph when it has none)."""
    glyphs = cast(cairocffi.Context, ctx).get_scaled_font().text_to_glyphs(0, 0, char, False)
    return int(glyphs[0][0]) if glyphs else 0


def fallback_face(ctx: Context, char: str, families: tuple[str, ...]) -> FontFace | None:
    """The face of the first of ``families`` whose font has a glyph for ``char`` (at the context's size and
    options), or None; the context keeps its own face."""
    raw = cast(cairocffi.Context, ctx)
    own = raw.get_font_face()
    try:
        for family in families:
            face = cairocffi.ToyFontFace(family)
            raw.set_font_face(face)
            if glyph_index(ctx, char):
                return cast(FontFace, face)
        return None
    finally:
        raw.set_font_face(own)


def show_text_in(ctx: Context, face: FontFace, text: str) -> None:
    """Draw ``text`` at the current point in ``face``, the context keeping its own face after."""
    raw = cast(cairocffi.Context, ctx)
    own = raw.get_font_face()
    raw.set_font_face(cast(cairocffi.FontFace, face))
    raw.show_text(text)
    raw.set_font_face(own)


def show_glyphs(ctx: Context, glyphs: list[tuple[int, float, float]]) -> None:
    """Draw ``(glyph, x, y)`` triples in one call."""
    cast(cairocffi.Context, ctx).show_glyphs(glyphs)


def set_hinted_font(ctx: Context, family: str, size_px: float, antialias: int) -> None:
    """Select ``family`` at ``size_px`` fitted to the pixel grid: full hinting, whole-pixel advances.

    Stems land on whole pixels, so 10 px text is as crisp as a bitmap font rather than a grey smear.
    """
    raw = cast(cairocffi.Context, ctx)
    raw.select_font_face(family)
    raw.set_font_size(size_px)
    options = cairocffi.FontOptions()
    options.set_hint_style(cairocffi.HINT_STYLE_FULL)
    options.set_hint_metrics(cairocffi.HINT_METRICS_ON)
    options.set_antialias(antialias)
    raw.set_font_options(options)
