"""``vwm_overlay.chart``: vwm's per-task process charts, drawn with cairo onto any surface.

A :class:`Chart` is updated once per sample with a task tree from :mod:`vwm_overlay.vmon` (or one built by hand)
and composed onto any cairo context or image surface; a :class:`Schedule` says when to sample and how many
1 px columns each sample covers.  This package never talks to X and never reads /proc.
"""

from __future__ import annotations

from .chart import MIN_HEIGHT_PX, MIN_WIDTH_PX, Chart, SampleSource
from .scale import LogScale
from .schedule import EPSILON_S, MAX_HZ, MIN_HZ, PRESETS_HZ, SampleTiming, Schedule
from .theme import RGBA, Theme

__all__ = [
    "EPSILON_S",
    "MAX_HZ",
    "MIN_HEIGHT_PX",
    "MIN_HZ",
    "MIN_WIDTH_PX",
    "PRESETS_HZ",
    "RGBA",
    "Chart",
    "LogScale",
    "SampleSource",
    "SampleTiming",
    "Schedule",
    "Theme",
]
