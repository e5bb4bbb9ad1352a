"""Window titles in every encoding X uses: COMPOUND_TEXT bytes as libX11 writes them, and a real xterm's title."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from polling import wait_for
from x11_helpers import Session

from vwm_overlay.x11 import Connection
from vwm_overlay.x11.ctext import decode_compound_text, decode_text_property
from vwm_overlay.x11.props import read_text

# What libX11 (XmbSetWMProperties in a UTF-8 locale) stored for `xterm -T "日本語 café"`: JIS X 0208 designated
# to GL, back to ASCII, and é in the default Latin-1 right half.
XTERM_TITLE = b"\x1b$(BF|K\\8l\x1b(B caf\xe9"


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (XTERM_TITLE, "日本語 café"),
        (b"\x1b$)B" + "日本語".encode("euc_jp") + b" caf\x1b-A\xe9", "日本語 café"),
        (b"\x1b-L" + "Привет".encode("iso8859_5"), "Привет"),
        (b"\x1b-F" + "Γειά".encode("iso8859_7") + b"\x1b-A\xe9", "Γειάé"),
        (b"\x1b$)A" + "中文".encode("gb2312") + b"\x1b$)C" + "한국".encode("euc_kr"), "中文한국"),
        (b"\x1b%G" + "ünï ☃".encode() + b"\x1b%@ ok", "ünï ☃ ok"),
        (b"\x1b%/1\x80\x8bbig5-0\x02" + "中文".encode("big5") + b"!", "中文!"),
        (b"\x1b)I\xb1\xb2", "ｱｲ"),  # JIS X 0201 katakana
        (b"line\none\ttab\x9b1]", "line\none\ttab"),
    ],
)
def test_compound_text_decodes(raw: bytes, text: str) -> None:
    assert decode_compound_text(raw) == text


@pytest.mark.parametrize("raw", [b"abc\x1b$(Zxx", b"abc\x1b", b"\x1b$(BF", b"\x1b%/1\x80"])
def test_unknown_or_cut_compound_text_shows_replacement_marks_never_escapes(raw: bytes) -> None:
    text = decode_compound_text(raw)
    assert "\x1b" not in text and "\ufffd" in text


def test_property_types() -> None:
    assert decode_text_property("STRING", b"caf\xe9") == "café"
    assert decode_text_property("UTF8_STRING", "日本語".encode()) == "日本語"
    assert decode_text_property("COMPOUND_TEXT", XTERM_TITLE) == "日本語 café"


@pytest.mark.x11
def test_a_real_xterm_title_reads_right(xsession: Session) -> None:
    if shutil.which("xterm") is None:
        pytest.skip("needs xterm (ci/setup installs it)")
    env = dict(xsession.env, LANG="C.UTF-8", LC_ALL="C.UTF-8")
    xterm = subprocess.Popen(
        ["xterm", "-T", "日本語 café", "-e", "sleep 60"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        with Connection(xsession.display) as conn:

            def titles() -> list[str | None]:
                found = []
                for child in conn.root.query_tree().children:
                    for inner in [child, *child.query_tree().children]:
                        if read_text(conn, inner.id, "WM_NAME") not in (None, ""):
                            found.append(read_text(conn, inner.id, "WM_NAME"))
                return found

            assert "日本語 café" in wait_for(lambda: [t for t in titles() if t and "caf" in t], 30, "the xterm title")
    finally:
        xterm.kill()
        xterm.wait()
