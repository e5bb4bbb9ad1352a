"""Shared fixtures: X sessions for the tests marked ``x11``, real process trees, recorders."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import proc_helpers
import pytest
from record_helpers import Start, recorders
from x11_helpers import ClientProc, Session, new_session


@pytest.fixture(scope="module")
def xsession() -> Iterator[Session]:
    """A fresh Xvfb with openbox (no compositor) for the whole test module."""
    if shutil.which("Xvfb") is None or shutil.which("openbox") is None:
        pytest.skip("needs Xvfb and openbox")
    with new_session(wm="openbox") as session:
        yield session


@pytest.fixture(scope="module")
def fbsession(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Session, Path]]:
    """Xvfb with openbox whose framebuffer is readable as an XWD file (what a
    compositor really shows), and xcompmgr and xdotool at hand."""
    for tool in ("Xvfb", "openbox", "xcompmgr", "xdotool"):
        if shutil.which(tool) is None:
            pytest.skip(f"needs {tool}")
    fbdir = tmp_path_factory.mktemp("fb")
    with new_session(wm="openbox", fbdir=str(fbdir)) as session:
        yield session, fbdir / "Xvfb_screen0"


@pytest.fixture
def xs(fbsession: tuple[Session, Path]) -> Session:
    return fbsession[0]


@pytest.fixture
def clients() -> Iterator[list[ClientProc]]:
    """Client windows a test starts; all closed at its end."""
    procs: list[ClientProc] = []
    yield procs
    for proc in procs:
        proc.close()


@pytest.fixture
def nodes() -> Iterator[proc_helpers.Controller]:
    """Drives node processes (``proc_helpers``); kills every process the test started."""
    with proc_helpers.nodes() as controller:
        yield controller


@pytest.fixture
def reaped() -> Iterator[None]:
    """Reaps, at the test's end, every child process the test left (a zombie otherwise until pytest exits)."""
    try:
        yield
    finally:
        proc_helpers.reap_children()


@pytest.fixture
def record(tmp_path: Path) -> Iterator[Start]:
    """Starts ``vwm-overlay record ARGS`` in ``tmp_path``; every recorder's process group is killed at the end."""
    with recorders(tmp_path) as start:
        yield start
