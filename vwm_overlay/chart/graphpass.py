"""The graph pass of a chart: one 1 px column per covered interval, written at the ring's phase.

Bars for every visible row (CPU, and for a process with lanes shown its IO and RSS lanes), the header rows' system
graphs, and the start and exit markers.  Rows below the allocation are not drawn; their first visible column is blank.
"""

from __future__ import annotations

from vwm_overlay.vmon.records import SysStat

from ..schedule import SampleTiming
from .header import SysDeltas
from .layers import Layers
from .patterns import Patterns
from .rows import Row
from .scale import LogScale
from .theme import Theme

__all__ = ["GraphWriter"]


class GraphWriter:
    """Writes each sample's columns into a chart's graph layer, from the per-sample deltas of its tasks."""

    def __init__(self, theme: Theme) -> None:
        self._theme = theme
        self._patterns = Patterns(theme)
        self._sys = SysDeltas()
        #: The scales of the IO and RSS lanes (the heading describes them).
        self.io_scale = LogScale(theme.io_base_bytes_per_s, theme.io_factor, theme.io_lane_px - 1)
        self.rss_scale = LogScale(theme.rss_base_bytes, theme.rss_factor, theme.rss_lane_px - 1)

    def draw(
        self,
        layers: Layers,
        live: list[Row],
        snow: list[Row],
        sys: SysStat | None,
        timing: SampleTiming,
        *,
        num_cpus: int,
        ticks_per_s: int,
        hertz: int,
    ) -> None:
        """Write the columns ``timing`` covers: bars of the ``live`` rows, exit markers of new ``snow`` rows."""
        theme = self._theme
        patterns = self._patterns
        bar_px = theme.bar_px
        deltas = self._sys.update(sys)
        total = self._sys.total_ticks
        if total <= 0:
            # No system stat (or a zero delta at rates above USER_HZ): what the elapsed time allows.
            total = max(1, round(ticks_per_s * max(num_cpus, 1) * max(timing.elapsed_s, 0.0)))
        total2 = 2 * total
        cpu_scale = bar_px * max(num_cpus, 1)
        elapsed_s = timing.elapsed_s if timing.elapsed_s > 0 else 1.0 / max(hertz, 1)
        height_px = layers.height_px
        header = self._sys.runs(patterns, deltas, timing.adherence, bar_px)
        columns = max(timing.columns, 1)
        newest: list[bytes] = [header]
        older: list[bytes] | None = [header] if columns > 1 else None
        cpu, io, rss = patterns.cpu, patterns.io, patterns.rss
        io_scale, rss_scale = self.io_scale, self.rss_scale
        row_px = theme.row_px
        for row in live:
            if row.y_px >= height_px:
                continue  # below the allocation: nothing to draw
            task = row.task
            delta = task.delta  # the engine's figures for this sample
            if task.stat is None or delta.baseline:
                run = patterns.blank(row.height_px)
            else:
                # A threaded process's own row is its whole thread group, on the scale of all CPUs; a thread's
                # (and a single-threaded process's) row is on the scale of one CPU.
                scale = bar_px if (task.is_threaded or task.threads) and not task.is_thread else cpu_scale
                # Own use in the bright colours; children's CPU credited to the process (reaped between samples)
                # in the dim ones, beyond it: the bright part is what the User and Sys columns count.
                user_px = _px(delta.utime_ticks, scale, total, total2, bar_px)
                sys_px = _px(delta.stime_ticks, scale, total, total2, bar_px)
                all_user_px = _px(delta.utime_ticks + delta.children_utime_ticks, scale, total, total2, bar_px)
                all_sys_px = _px(delta.stime_ticks + delta.children_stime_ticks, scale, total, total2, bar_px)
                run = cpu.run(sys_px, user_px, all_sys_px - sys_px, all_user_px - user_px)
                if row.height_px > row_px:
                    if task.io is not None:
                        write = io_scale.px((delta.write_bytes + delta.children_write_bytes) / elapsed_s)
                        read = io_scale.px((delta.read_bytes + delta.children_read_bytes) / elapsed_s)
                        run += io.run(write, read)
                    else:
                        run += io.run(0, 0)
                    run += rss.run(0, rss_scale.px(delta.rss_bytes))
            if older is not None:
                older.append(patterns.blank(row.height_px) if row.start_pending else run)
            if row.start_pending:
                row.start_pending = False
                run = patterns.start(row.height_px)
            newest.append(run)
        finished = [row for row in snow if row.finish_pending]
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
            layers.put_column(layers.advance_phase(), _fit(older, height_px))
        layers.put_column(layers.advance_phase(), _fit(newest, height_px))


def _px(delta: int, scale: int, total: int, total2: int, bar_px: int) -> int:
    """``delta / total * scale``, rounded, at least 1 px for any non-zero delta, at most ``bar_px``."""
    return 0 if delta <= 0 else min(max((2 * delta * scale + total) // total2, 1), bar_px)


def _fit(parts: list[bytes], height_px: int) -> bytes:
    column = b"".join(parts)
    size = 4 * height_px
    if len(column) >= size:
        return column[:size]
    return column + bytes(size - len(column))
