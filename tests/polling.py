"""Waiting in tests: poll a condition against a deadline, never a fixed sleep."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

__all__ = ["wait_for"]

T = TypeVar("T")


def wait_for(predicate: Callable[[], T], timeout_s: float = 20.0, what: str = "a condition") -> T:
    """Poll ``predicate`` until it returns something true, against a deadline."""
    deadline = time.monotonic() + timeout_s
    delay_s = 0.002
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        time.sleep(delay_s)
        delay_s = min(delay_s * 1.5, 0.05)
