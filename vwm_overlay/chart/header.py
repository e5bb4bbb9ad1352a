"""The three fixed header rows: system CPU graphs, the heading and the column headings.

- Row 0: IOWait (from the top) and Idle (from the bottom); the heading ``\\/\\/\\ # name @ NHz`` at the top right.
- Row 1: IRQ (top) and SoftIRQ (bottom); at the right, how many live tasks have no row and how many exited ones
  are not in view; the scales of the IO and RSS lanes when shown, at the left, shortened or left out where they
  would meet that count.
- Row 2: Adherence, how late (top) or early (bottom) the sample was; the column headings.
"""

from __future__ import annotations

from vwm_overlay.vmon.records import SysStat

from .patterns import Patterns
from .scale import LogScale, fraction_px, ratio_px

__all__ = ["HEADER_ROWS", "SysDeltas", "heading_text", "hidden_text", "lanes_legends"]

HEADER_ROWS = 3

# Indexes in SysStat.cpu (file order of the cpu line of /proc/stat).
_IDLE, _IOWAIT, _IRQ, _SOFTIRQ = 3, 4, 5, 6
_TOTAL_FIELDS = 8  # user..steal: guest time is already counted in user


def heading_text(name: str | None, hertz: int) -> str:
    """vwm's heading; ``hertz`` 0 means paused, which says so rather than "@ 0Hz"."""
    rate = f"@ {hertz}Hz" if hertz else "paused"
    return f"\\/\\/\\ # {name} {rate}" if name else f"\\/\\/\\ {rate}"


def hidden_text(count: int, exited: int = 0) -> str:
    """What row 1 says when live tasks have no row (the tree is taller than the chart) or exited ones are not in
    view (their snowflakes fell off the bottom), e.g. ``3 tasks + 12 exited not shown``; empty when none."""
    parts = []
    if count > 0:
        parts.append(f"{count} task{'s' if count > 1 else ''}")
    if exited > 0:
        parts.append(f"{exited} exited")
    return f"{' + '.join(parts)} not shown" if parts else ""


def lanes_legends(io: LogScale, rss: LogScale) -> tuple[str, ...]:
    """The lanes' scales for row 1: the whole legend, then shorter ones for a narrow chart."""

    def legend(io_text: str, rss_text: str) -> str:
        return "   ".join(([io_text] if io.max_px else []) + ([rss_text] if rss.max_px else []))

    io_scale, rss_scale = io.describe("/s"), rss.describe("")
    texts = (
        legend(f"IO write(top) read(bottom) {io_scale}", f"RSS {rss_scale}"),
        legend(f"IO {io_scale}", f"RSS {rss_scale}"),
        legend(f"IO {io.describe('/s', brief=True)}", f"RSS {rss.describe('', brief=True)}"),
    )
    return tuple(dict.fromkeys(text for text in texts if text))


class SysDeltas:
    """System CPU tick deltas between consecutive samples, and the header rows' pixels."""

    def __init__(self) -> None:
        self._last: tuple[int, ...] | None = None
        self.total_ticks = 0  # all CPUs, this sample; 0 when unknown

    def update(self, sys: SysStat | None) -> tuple[int, ...] | None:
        """Deltas of ``sys.cpu`` since the previous call, or None (first sample, or no system stat)."""
        if sys is None:
            self._last = None
            self.total_ticks = 0
            return None
        last, self._last = self._last, sys.cpu
        if last is None or len(last) != len(sys.cpu):
            self.total_ticks = 0
            return None
        deltas = tuple(max(now - before, 0) for now, before in zip(sys.cpu, last, strict=True))
        self.total_ticks = sum(deltas[:_TOTAL_FIELDS])
        return deltas

    def runs(self, patterns: Patterns, deltas: tuple[int, ...] | None, adherence: float, bar_px: int) -> bytes:
        """The three header rows' pixels for one column."""
        cpu = patterns.cpu
        if deltas is None:
            row0 = row1 = cpu.run(0, 0)
        else:
            total = self.total_ticks
            row0 = cpu.run(ratio_px(deltas[_IOWAIT], total, 1, bar_px), ratio_px(deltas[_IDLE], total, 1, bar_px))
            row1 = cpu.run(ratio_px(deltas[_IRQ], total, 1, bar_px), ratio_px(deltas[_SOFTIRQ], total, 1, bar_px))
        row2 = cpu.run(fraction_px(adherence, bar_px), fraction_px(-adherence, bar_px))
        return row0 + row1 + row2
