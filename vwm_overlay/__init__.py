"""vwm-overlay: vwm's per-window process monitoring for every X11 desktop."""

__version__ = "0.1.0"
