"""``vwm_overlay.chart``: vwm's per-task process charts, drawn with cairo onto any surface.

A :class:`Chart` is updated once per sample with a task tree from :mod:`vwm_overlay.vmon` (or one built by hand)
and composed onto any cairo context or image surface, each sample covering the 1 px columns that
:class:`vwm_overlay.schedule.Schedule` says.  This package never talks to X and never reads /proc.
"""

from __future__ import annotations

from .chart import MIN_HEIGHT_PX, MIN_WIDTH_PX, Chart, SampleSource
from .export import FORMATS, write_chart
from .scale import LogScale
from .theme import MAX_SCALE, MIN_SCALE, RGBA, Theme, scale_for_dpi

__all__ = [
    "FORMATS",
    "MAX_SCALE",
    "MIN_HEIGHT_PX",
    "MIN_SCALE",
    "MIN_WIDTH_PX",
    "RGBA",
    "Chart",
    "LogScale",
    "SampleSource",
    "Theme",
    "scale_for_dpi",
    "write_chart",
]
