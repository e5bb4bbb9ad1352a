"""The graph pass of a chart: one 1 px column per covered interval, written at the ring's phase.

Bars for every visible row (CPU, and for a process its IO and RSS lanes), the header rows' system graphs, and
the start and exit markers.  Rows below the allocation are not drawn; their first visible column is blank.
"""

from __future__ import annotations

from vwm_overlay.vmon.records import SysStat

from .header import SysDeltas
from .layers import Layers
from .patterns import Patterns
from .rows import Row
from .scale import LogScale
from .schedule import SampleTiming
from .theme import Theme

__all__ = ["GraphPass"]


class GraphPass:
    """Draws one sample's columns; mixed into :class:`~vwm_overlay.chart.chart.Chart`."""

    theme: Theme
    _layers: Layers
    _patterns: Patterns
    _sys: SysDeltas
    _io_scale: LogScale
    _rss_scale: LogScale
    _live: list[Row]
    _snow: list[Row]
    _ticks_per_s: int
    _hertz_label: int

    def _draw_columns(self, sys: SysStat | None, timing: SampleTiming, num_cpus: int, page_size: int) -> None:
        theme = self.theme
        patterns = self._patterns
        bar_px = theme.bar_px
        deltas = self._sys.update(sys)
        total = self._sys.total_ticks
        if total <= 0:
            # No system stat (or a zero delta at rates above USER_HZ): what the elapsed time allows.
            total = max(1, round(self._ticks_per_s * max(num_cpus, 1) * max(timing.elapsed_s, 0.0)))
        total2 = 2 * total
        cpu_scale = bar_px * max(num_cpus, 1)
        elapsed_s = timing.elapsed_s if timing.elapsed_s > 0 else 1.0 / max(self._hertz_label, 1)
        height_px = self._layers.height_px
        header = self._sys.runs(patterns, deltas, timing.adherence, bar_px)
        columns = max(timing.columns, 1)
        newest: list[bytes] = [header]
        older: list[bytes] | None = [header] if columns > 1 else None
        cpu, io, rss = patterns.cpu, patterns.io, patterns.rss
        io_scale, rss_scale = self._io_scale, self._rss_scale
        lanes = theme.process_slot_px > theme.row_px
        for row in self._live:
            if row.y_px >= height_px:
                # Below the allocation nothing is drawn; its first visible
                # column will be blank rather than the sum of many samples.
                row.primed = False
                continue
            task = row.task
            stat = task.stat
            if stat is None or not row.primed:
                run = patterns.blank(row.height_px)
            else:
                # Integer rounding of delta / total * mult * bar_px, at least 1 px for any non-zero delta.
                scale = bar_px if (task.is_threaded or task.threads) and not task.is_thread else cpu_scale
                # The engine's deltas; children that ran and exited between
                # samples are credited to the parent, so they are not invisible.
                used = task.delta
                delta = used.utime_ticks + used.children_utime_ticks
                user_px = 0 if delta <= 0 else min(max((2 * delta * scale + total) // total2, 1), bar_px)
                delta = used.stime_ticks + used.children_stime_ticks
                sys_px = 0 if delta <= 0 else min(max((2 * delta * scale + total) // total2, 1), bar_px)
                run = cpu.run(sys_px, user_px)
                if lanes and not row.is_thread:
                    taskio = task.io
                    if taskio is not None and row.has_io:
                        write = io_scale.px((used.write_bytes + used.children_write_bytes) / elapsed_s)
                        read = io_scale.px((used.read_bytes + used.children_read_bytes) / elapsed_s)
                        run += io.run(write, read)
                    else:
                        run += io.run(0, 0)
                    run += rss.run(0, rss_scale.px(stat.rss_pages * page_size))
            if stat is not None:
                row.primed = True
                row.last_utime_ticks = stat.utime_ticks
                row.last_stime_ticks = stat.stime_ticks
                taskio = task.io
                row.has_io = taskio is not None
                if taskio is not None:
                    row.last_read_bytes = taskio.read_bytes
                    row.last_write_bytes = taskio.write_bytes
            if older is not None:
                older.append(patterns.blank(row.height_px) if row.start_pending else run)
            if row.start_pending:
                row.start_pending = False
                run = patterns.start(row.height_px)
            newest.append(run)
        finished = [row for row in self._snow if row.finish_pending]
        if finished:
            filled_px = sum(len(part) for part in newest) // 4
            for row in finished:
                row.finish_pending = False
                if row.y_px < filled_px or row.y_px >= height_px:
                    continue
                newest.append(patterns.blank(row.y_px - filled_px))
                newest.append(patterns.finish(row.height_px))
                filled_px = row.y_px + row.height_px
        for _ in range(columns - 1):
            assert older is not None
            self._layers.put_column(self._layers.advance_phase(), _fit(older, height_px))
        self._layers.put_column(self._layers.advance_phase(), _fit(newest, height_px))


def _fit(parts: list[bytes], height_px: int) -> bytes:
    column = b"".join(parts)
    size = 4 * height_px
    if len(column) >= size:
        return column[:size]
    return column + bytes(size - len(column))
