"""Shared fixtures: X sessions for the tests marked ``x11``, and real process trees."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import proc_helpers
import pytest
from x11_helpers import Session, new_session


@pytest.fixture(scope="module")
def xsession() -> Iterator[Session]:
    """A fresh Xvfb with openbox (no compositor) for the whole test module."""
    if shutil.which("Xvfb") is None or shutil.which("openbox") is None:
        pytest.skip("needs Xvfb and openbox")
    with new_session(wm="openbox") as session:
        yield session


@pytest.fixture
def nodes() -> Iterator[proc_helpers.Controller]:
    """Drives node processes (``proc_helpers``); kills every process the test started."""
    with proc_helpers.nodes() as controller:
        yield controller
