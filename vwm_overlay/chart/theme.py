"""Every colour, font and size of the chart, in one frozen dataclass.

Colours are straight (not premultiplied) ``(red, green, blue, alpha)`` tuples in 0..1.  The defaults give vwm's
snapshot look in full colour: black background, cyan user CPU, red system CPU, white text with a dark shadow.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

__all__ = ["MAX_SCALE", "MIN_SCALE", "REFERENCE_DPI", "RGBA", "Theme", "premultiplied_pixel", "scale_for_dpi"]

RGBA = tuple[float, float, float, float]

#: The factors :meth:`Theme.scaled` is meant for: below, text is no longer legible; above, a chart of a few
#: rows fills a screen.
MIN_SCALE = 0.5
MAX_SCALE = 4.0

#: The density the chart's sizes are made for: X's and the toolkits' 96 dpi.
REFERENCE_DPI = 96.0


def scale_for_dpi(dpi: float | None) -> float:
    """The chart's scale on a screen of ``dpi`` (1 when unknown): a quarter step, within the accepted range.

    Quarter steps keep the sizes whole-ish (15 px rows become 30 at 192 dpi, 22 at 144 dpi) and the chart the
    same under the small differences of density that desktops round differently.
    """
    if dpi is None or dpi <= 0:
        return 1.0
    quarters = round(dpi / REFERENCE_DPI * 4)
    return min(max(quarters / 4, MIN_SCALE), MAX_SCALE)


def premultiplied_pixel(rgba: RGBA) -> int:
    """``rgba`` as one native cairo ARGB32 pixel (``0xAARRGGBB``, premultiplied alpha)."""
    red, green, blue, alpha = (min(max(c, 0.0), 1.0) for c in rgba)
    a = round(alpha * 255)
    return (a << 24) | (round(red * a) << 16) | (round(green * a) << 8) | round(blue * a)


@dataclass(frozen=True, slots=True)
class Theme:
    """Look and geometry of a chart.

    Every task's slot is one ``row_px`` row, as in vwm.  On a chart that shows lanes, a process's slot is its row,
    then an IO lane (``io_lane_px``: bytes
    written per second grow down from the top, bytes read up from the bottom) and an RSS lane (``rss_lane_px``:
    the resident set grows up from the bottom); both on logarithmic scales (see ``LogScale``) so that a trickle
    and a flood both show.  Threads get no lanes: IO and memory are accounted per process.  A lane with a height
    of 0 is not drawn; each lane's last line is a divider, like a row's.

    ``numbers_refresh_s`` limits how often a live row's User, Sys and Wall are drawn again: numbers that change
    every sample cannot be read at 10-60 Hz, and drawing them is most of the cost of a chart composed every
    sample.  Once a row's numbers were drawn, newer ones are drawn only after this much sample time (the sum of
    the samples' ``elapsed_s``, not the wall clock); a number that changes after a longer quiet spell shows at
    once.  Everything else (names, PID, State, WChan, the Row index, new and moved rows, snowflakes, headings) is
    drawn at the next composition.  0 draws every change.  A snapshot (``Chart.to_surface``) never holds: it shows
    the numbers of its own sample.
    """

    # -- geometry: vwm's 15 px rows, the last line of each a divider; text columns 7 px apart.
    row_px: int = 15
    column_gap_px: int = 7
    tree_indent_px: int = 7
    text_lead_px: int = 4
    #: Extra lanes under each process row (not under threads), each ending with a 1 px divider line.
    io_lane_px: int = 8
    rss_lane_px: int = 5

    # -- text: cairo's toy font API; the baseline is counted from the top of the row.
    font_family: str = "DejaVu Sans Mono"
    #: Where characters the font lacks (CJK titles) are looked for, first to last: the first family whose font has
    #: the character draws it (fontconfig answers a family it does not know with its default font, which is tried
    #: as well); with none, the font's "missing" box stays.
    fallback_families: tuple[str, ...] = (
        "Noto Sans CJK SC",
        "Noto Sans CJK JP",
        "WenQuanYi Micro Hei",
        "WenQuanYi Zen Hei",
        "Droid Sans Fallback",
        "Noto Sans",
    )
    font_size_px: float = 10.0
    #: Grey edges on the hinted glyphs; off (the default), text is bitmap-crisp like vwm's: pure white or nothing.
    font_antialias: bool = False
    text_baseline_px: int = 11
    #: Shortest sample time between two drawings of a row's User, Sys and Wall (see above).
    numbers_refresh_s: float = 0.5

    # -- scales of the lanes: 1 px for any non-zero value, then one more px per ``factor`` above ``base``.
    io_base_bytes_per_s: int = 4096
    io_factor: int = 8
    rss_base_bytes: int = 4 << 20
    rss_factor: int = 8

    # -- colours
    background: RGBA = (0.0, 0.0, 0.0, 1.0)
    background_odd: RGBA = (0x10 / 255, 0x10 / 255, 0x10 / 255, 1.0)
    divider: RGBA = (0x30 / 255, 0x30 / 255, 0x30 / 255, 1.0)
    marker: RGBA = (0xC0 / 255, 0xC0 / 255, 0.0, 1.0)
    #: Grows down from the top of a row: system CPU, IOWait, IRQ, late samples.
    graph_top: RGBA = (1.0, 0.0, 0.0, 1.0)
    #: Grows up from the bottom of a row: user CPU, Idle, SoftIRQ, early samples.
    graph_bottom: RGBA = (0.0, 1.0, 1.0, 1.0)
    #: The same for CPU of children credited to a process (reaped between two samples): dimmer, beyond its own.
    graph_top_children: RGBA = (0.55, 0.0, 0.0, 1.0)
    graph_bottom_children: RGBA = (0.0, 0.5, 0.5, 1.0)
    #: Where the two overlap, and the start and exit markers.
    graph_both: RGBA = (1.0, 1.0, 1.0, 1.0)
    io_write: RGBA = (1.0, 0.55, 0.0, 1.0)
    io_read: RGBA = (0.2, 0.85, 0.2, 1.0)
    io_both: RGBA = (1.0, 1.0, 0.4, 1.0)
    rss: RGBA = (0.65, 0.45, 1.0, 1.0)
    text: RGBA = (1.0, 1.0, 1.0, 1.0)
    snowflake_text: RGBA = (0xD0 / 255, 0xD0 / 255, 0xD0 / 255, 1.0)
    #: Around every glyph, one pixel wide: opaque, so text reads over the brightest graph.
    shadow: RGBA = (0.0, 0.0, 0.0, 1.0)

    def scaled(self, factor: float) -> Theme:
        """This theme with every size multiplied by ``factor`` (a HiDPI screen, a bigger PNG); dividers stay 1 px."""
        if factor == 1.0:
            return self

        def px(value: int) -> int:
            return max(round(value * factor), 1) if value > 0 else 0

        return replace(
            self,
            row_px=px(self.row_px),
            column_gap_px=px(self.column_gap_px),
            tree_indent_px=px(self.tree_indent_px),
            text_lead_px=px(self.text_lead_px),
            io_lane_px=px(self.io_lane_px),
            rss_lane_px=px(self.rss_lane_px),
            font_size_px=self.font_size_px * factor,
            text_baseline_px=px(self.text_baseline_px),
        )

    @property
    def bar_px(self) -> int:
        """Height of a CPU bar at 100%: the row without its divider."""
        return self.row_px - 1

    @property
    def process_slot_px(self) -> int:
        """Height of a process's row plus its lanes."""
        return self.row_px + self.io_lane_px + self.rss_lane_px
