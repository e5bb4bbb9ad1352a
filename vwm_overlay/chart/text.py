"""Text cells: drawn into the text layer, then shadowed into the overlay layer, only where something changed.

A row's cells are compared with what was last drawn; only the cells that differ are queued.  :meth:`flush` then
works in a few batched cairo calls: one fill clears every queued cell (runs of the same column in consecutive rows
merged into one rectangle), one ``show_glyphs`` per column draws all text that fits its cells (the font is
monospace, so each glyph's place is known without asking cairo; cairo works over the bounding box of one call's
glyphs, so a call per column keeps that box narrow), one fill draws the tree lines, and the overlay (shadow, then
text on top) is rebuilt only over the queued columns: the text coverage is masked at four one-pixel offsets in the
shadow colour, then at its place in the text colour, so text reads over any graph.
"""

from __future__ import annotations

from collections.abc import Sequence

from .cairo_types import (
    ANTIALIAS_GRAY,
    ANTIALIAS_NONE,
    OPERATOR_CLEAR,
    OPERATOR_OVER,
    Context,
    FontFace,
    fallback_face,
    glyph_index,
    new_context,
    set_hinted_font,
    show_glyphs,
    show_text_in,
)
from .columns import Align
from .layers import Layers
from .rows import Cell
from .theme import Theme

__all__ = ["TextPainter"]

_SHADOW_OFFSETS = ((-1, 0), (1, 0), (0, -1), (0, 1))
#: ``(x0, x1)`` -> ``[(y, height), ...]``: areas queued, by column.
_Spans = dict[tuple[int, int], list[tuple[int, int]]]


def _advance(ctx: Context) -> float:
    # Rounded so that n characters measure exactly n advances (extents carry float noise such as 6.000000000000001).
    return round(ctx.text_extents("M")[4], 3)


class TextPainter:
    """Draws cells on one chart's layers."""

    def __init__(self, layers: Layers, theme: Theme) -> None:
        self._theme = theme
        self._layers = layers
        self._ctx: Context = new_context(layers.text)
        set_hinted_font(
            self._ctx, theme.font_family, theme.font_size_px, ANTIALIAS_GRAY if theme.font_antialias else ANTIALIAS_NONE
        )
        self._overlay: Context = new_context(layers.overlay)
        self.advance_px = _advance(self._ctx)
        # Characters sit in whole-pixel boxes, so a changed one can be cleared without touching its neighbours.
        self._whole_advance = self.advance_px == int(self.advance_px)
        self._glyph_ids: dict[str, int] = {}
        #: Characters the font lacks -> the face that has them (None: no font has them).
        self._fallbacks: dict[str, FontFace | None] = {}
        self._clears: _Spans = {}
        #: Glyphs to draw, by the ``x0`` of their cell's column.
        self._glyphs: dict[int, list[tuple[int, float, float]]] = {}
        self._clipped: list[tuple[int, int, int, str]] = []
        self._lines: list[tuple[int, int, int, int]] = []
        self._shadows: _Spans = {}
        self._shadows_snow: _Spans = {}

    def paint_row(self, y: int, slot_px: int, cells: Sequence[Cell], old: Sequence[Cell] | None, *, snow: bool) -> None:
        """Queue the cells of the row at ``y`` that differ from ``old`` (all of them, over a cleared slot, if None).

        When a text only changed some characters in place (a counter ticking), only those characters are drawn.
        A cell cleared with slack (glyph ink may pass its box by a pixel) may touch the ink of a neighbour that
        did not change (ArgV starts where the tree lines end): that neighbour is drawn again too.
        """
        clears = self._clears
        shadows = self._shadows_snow if snow else self._shadows
        if old is None or len(old) != len(cells):
            width_px = self._layers.width_px
            _add(clears, (0, width_px), y, slot_px)
            _add(shadows, (0, width_px), y, slot_px)
            for cell in cells:
                self._draw(cell, y, shadows)
            return
        cleared: list[tuple[int, int]] = []  # x ranges cleared around whole cells in this row
        redraw: list[int] = []
        for i, cell in enumerate(cells):
            prev = old[i]
            if prev == cell:
                continue
            if not self._draw_changed_run(prev, cell, y, shadows):
                self._clear_cell(prev, y, shadows, cleared)
                if prev[:2] != cell[:2]:
                    self._clear_cell(cell, y, shadows, cleared)
                redraw.append(i)
        if cleared:
            more = True
            while more:
                more = False
                for i, cell in enumerate(cells):
                    if i in redraw or old[i] != cell:
                        continue
                    x0, x1 = _ink_span(cell)
                    if x1 > x0 and any(c0 < x1 and x0 < c1 for c0, c1 in cleared):
                        self._clear_cell(cell, y, shadows, cleared)
                        redraw.append(i)
                        more = True
        for i in redraw:
            self._draw(cells[i], y, shadows)

    def _draw_changed_run(self, prev: Cell, cell: Cell, y: int, shadows: _Spans) -> bool:
        """Redraw only the characters that changed, if the text kept its place and length; False otherwise."""
        x0, x1, align, content = cell
        before = prev[3]
        if (
            not self._whole_advance
            or prev[:3] != cell[:3]
            or not isinstance(content, str)
            or not isinstance(before, str)
            or len(before) != len(content)
        ):
            return False
        start = self._text_x(x0, x1, align, content)
        if start is None:
            return False
        first, last = 0, len(content)
        while content[first] == before[first]:
            first += 1
        while content[last - 1] == before[last - 1]:
            last -= 1
        advance = self.advance_px
        row_px = self._theme.row_px
        run_x0 = start + int(first * advance)
        run_x1 = start + int(last * advance)
        _add(self._clears, (run_x0, run_x1), y, row_px)
        _add(shadows, (run_x0 - 1, run_x1 + 1), y, row_px)
        self._queue_glyphs(content[first:last], run_x0, y, x0)
        return True

    def _clear_cell(self, cell: Cell, y: int, shadows: _Spans, cleared: list[tuple[int, int]]) -> None:
        """Queue the clearing of what ``cell`` drew: its text box with slack, or exactly its tree lines."""
        x0, x1, _, content = cell
        if isinstance(content, tuple):
            for rx, ry, w, h in content:
                _add(self._clears, (x0 + rx, x0 + rx + w), y + ry, h)
                _add(shadows, (x0 + rx - 1, x0 + rx + w + 1), y + ry - 1, h + 2)
                cleared.append((x0 + rx, x0 + rx + w))
        elif x1 > x0:
            # One pixel of slack on each side: glyph ink may pass its advance box.
            row_px = self._theme.row_px
            _add(self._clears, (x0 - 1, x1 + 1), y, row_px)
            _add(shadows, (x0 - 2, x1 + 2), y, row_px)
            cleared.append((x0 - 1, x1 + 1))

    def _draw(self, cell: Cell, y: int, shadows: _Spans) -> None:
        """Queue ``cell`` whole, over an area already queued for clearing."""
        x0, x1, align, content = cell
        if isinstance(content, tuple):
            for rx, ry, w, h in content:
                self._lines.append((x0 + rx, y + ry, w, h))
                _add(shadows, (x0 + rx - 1, x0 + rx + w + 1), y + ry - 1, h + 2)
            return
        if x1 <= x0 or not content:
            return
        start = self._text_x(x0, x1, align, content)
        if start is None:
            self._clipped.append((x0, x1, y, content))
        else:
            self._queue_glyphs(content, start, y, x0)

    def _text_x(self, x0: int, x1: int, align: int, text: str) -> int | None:
        """Where ``text`` starts in its cell; None when it needs clipping (too long, or not plain ASCII)."""
        text_px = len(text) * self.advance_px
        room = x1 - x0
        if text_px > room or not text.isascii():
            return None
        if align == Align.RIGHT:
            return round(x1 - text_px)
        if align == Align.CENTER:
            return round(x0 + (room - text_px) // 2)
        return x0

    def _queue_glyphs(self, text: str, x: int, y: int, column: int) -> None:
        baseline = y + self._theme.text_baseline_px
        advance = self.advance_px
        ids = self._glyph_ids
        glyphs = self._glyphs.get(column)
        if glyphs is None:
            glyphs = self._glyphs[column] = []
        for n, char in enumerate(text):
            gid = ids.get(char)
            if gid is None:
                gid = ids[char] = glyph_index(self._ctx, char)
            glyphs.append((gid, x + n * advance, baseline))

    def _font_runs(self, text: str) -> list[tuple[str, FontFace | None]]:
        """``text`` in runs of one face each: None for the chart's font, else a fallback's (cairo's toy font API
        draws every character in one font, a box where it has none)."""
        if text.isascii():
            return [(text, None)]
        runs: list[tuple[str, FontFace | None]] = []
        ids, fallbacks = self._glyph_ids, self._fallbacks
        for char in text:
            gid = ids.get(char)
            if gid is None:
                gid = ids[char] = glyph_index(self._ctx, char)
            face = None
            if not gid and not char.isspace():
                if char not in fallbacks:
                    fallbacks[char] = fallback_face(self._ctx, char, self._theme.fallback_families)
                face = fallbacks[char]
            if runs and runs[-1][1] is face:
                runs[-1] = (runs[-1][0] + char, face)
            else:
                runs.append((char, face))
        return runs

    def mend_seams(self, snow_y: int) -> None:
        """Queue the overlay's lines around the seams rows that moved left (see ``Layers.take_seams``); rows from
        ``snow_y`` down are snowflakes (their text has its own colour)."""
        width_px = self._layers.width_px
        for y in self._layers.take_seams():
            _add(self._shadows_snow if y >= snow_y else self._shadows, (0, width_px), y - 1, 2)

    def flush(self) -> None:
        """Draw everything queued since the last flush, and rebuild the overlay there."""
        if not (self._clears or self._glyphs or self._clipped or self._lines or self._shadows or self._shadows_snow):
            return
        ctx = self._ctx
        ctx.set_operator(OPERATOR_CLEAR)
        for (x0, x1), spans in self._clears.items():
            for y, height in _merged(spans):
                ctx.rectangle(x0, y, x1 - x0, height)
        ctx.fill()
        ctx.set_operator(OPERATOR_OVER)
        ctx.set_source_rgba(1.0, 1.0, 1.0, 1.0)
        for glyphs in self._glyphs.values():
            show_glyphs(ctx, glyphs)
        row_px = self._theme.row_px
        baseline = self._theme.text_baseline_px
        for x0, x1, y, text in self._clipped:
            # Too long (or not plain ASCII): clipped to its own column.
            ctx.save()
            ctx.rectangle(x0, y, x1 - x0, row_px)
            ctx.clip()
            ctx.move_to(x0, y + baseline)
            for run, face in self._font_runs(text):
                if face is None:
                    ctx.show_text(run)
                else:
                    show_text_in(ctx, face, run)
            ctx.restore()
        if self._lines:
            for rect in self._lines:
                ctx.rectangle(*rect)
            ctx.fill()
        self._clears.clear()
        self._glyphs.clear()
        self._clipped.clear()
        self._lines.clear()
        theme = self._theme
        for queued, colour in ((self._shadows, theme.text), (self._shadows_snow, theme.snowflake_text)):
            if queued:
                self._shadow(queued, colour)
                queued.clear()

    def _shadow(self, spans: _Spans, colour: tuple[float, float, float, float]) -> None:
        o = self._overlay
        o.save()
        # Rebuilding the overlay anywhere gives the pixels it holds already, unless the text changed there; each
        # pass costs in proportion to the area clipped, so the clip is exactly the queued areas (runs of touching
        # rows of a column joined).  Those overlap, and cairo resolves their union in far less time than the
        # passes would take over the bounding boxes of overlapping columns: when every row's numbers are drawn
        # again, such boxes hold four times the pixels.  (Live rows are all above the snowflakes, so an area of
        # one kind never covers text of the other colour.)
        rects = [(x0, y, x1 - x0, height) for (x0, x1), column in spans.items() for y, height in _merged(column)]
        for rect in rects:
            o.rectangle(*rect)
        o.clip()
        self._layers.note_overlay(rects)
        o.set_operator(OPERATOR_CLEAR)
        o.paint()
        o.set_operator(OPERATOR_OVER)
        o.set_source_rgba(*self._theme.shadow)
        for dx, dy in _SHADOW_OFFSETS:
            o.mask_surface(self._layers.text, dx, dy)
        o.set_source_rgba(*colour)
        o.mask_surface(self._layers.text, 0, 0)
        o.restore()


def _ink_span(cell: Cell) -> tuple[int, int]:
    """``[x0, x1)`` that ``cell``'s ink may cover: its text box with a pixel of slack, or its tree lines."""
    x0, x1, _, content = cell
    if isinstance(content, tuple):
        if not content:
            return (0, 0)
        return (x0 + min(rx for rx, _, _, _ in content), x0 + max(rx + w for rx, _, w, _ in content))
    if x1 <= x0 or not content:
        return (0, 0)
    return (x0 - 1, x1 + 1)


def _add(spans: _Spans, key: tuple[int, int], y: int, height: int) -> None:
    column = spans.get(key)
    if column is None:
        spans[key] = [(y, height)]
    else:
        column.append((y, height))


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Runs of touching ``(y, height)`` spans joined into one."""
    out: list[tuple[int, int]] = []
    for y, height in sorted(spans):
        if out and out[-1][0] + out[-1][1] >= y:
            top, h = out[-1]
            out[-1] = (top, max(top + h, y + height) - top)
        else:
            out.append((y, height))
    return out
