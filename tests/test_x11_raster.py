"""The X11 layer's pure parts: request strips, byte order, shape bands, bindings, XWD files."""

from __future__ import annotations

import struct
import sys

import pytest

from vwm_overlay.errors import UsageError
from vwm_overlay.x11 import BindingError, parse_binding, parse_xwd
from vwm_overlay.x11.hotkeys import _subsets
from vwm_overlay.x11.raster import (
    CHANGE_BAND_ROWS,
    CHANGE_GAP,
    band_mask,
    band_rects,
    changed_rects,
    rows_per_request,
    strips,
    to_server_order,
)


def test_rows_per_request_stays_under_the_limit() -> None:
    # 65535 units of 4 bytes, 24 of them the PutImage header.
    rows = rows_per_request(65535, 800 * 4)
    assert rows == 81
    assert 24 + rows * 3200 <= 65535 * 4 < 24 + (rows + 1) * 3200
    with pytest.raises(ValueError):
        rows_per_request(10, 100)


def test_strips_cover_the_rows_once() -> None:
    assert list(strips(0, 200, 81)) == [(0, 81), (81, 81), (162, 38)]
    assert list(strips(5, 5, 81)) == []
    assert list(strips(10, 20, 100)) == [(10, 10)]


def test_to_server_order_swaps_only_on_mismatch() -> None:
    native = (0x11223344).to_bytes(4, sys.byteorder)
    lsb = sys.byteorder == "little"
    assert to_server_order(native, lsb) is native
    assert to_server_order(native, not lsb) == native[::-1]


def _argb(width: int, rows: list[list[int]]) -> bytes:
    """Rows of alpha values as native-endian ARGB32 pixels."""
    out = bytearray()
    for row in rows:
        assert len(row) == width
        for alpha in row:
            out += (alpha << 24 | 0x000080).to_bytes(4, sys.byteorder)
    return bytes(out)


def test_band_mask_ors_the_alpha_of_the_band_rows() -> None:
    data = _argb(6, [[0, 255, 0, 0, 0, 0], [0, 0, 0, 0, 0, 9], [7, 0, 0, 0, 0, 0]])
    mask = band_mask(data, 24, 6, 0, 2)
    assert [bool(b) for b in mask] == [False, True, False, False, False, True]
    assert [bool(b) for b in band_mask(data, 24, 6, 2, 3)] == [True, False, False, False, False, False]


def test_band_mask_with_padded_rows() -> None:
    # 2 pixels per row, rows padded to 12 bytes.
    rows = [_argb(2, [[0, 5]]) + bytes(4), _argb(2, [[3, 0]]) + bytes(4)]
    assert [bool(b) for b in band_mask(b"".join(rows), 12, 2, 0, 2)] == [True, True]
    assert [bool(b) for b in band_mask(b"".join(rows), 12, 2, 0, 1)] == [False, True]
    assert band_mask(b"", 12, 2, 3, 3) == bytes(2)


def test_band_rects_merge_small_gaps() -> None:
    mask = bytes([0, 1, 1, 0, 1, 0, 0, 0, 0, 0, 1, 1])
    assert band_rects(mask, 30, 15, max_gap=2) == [(1, 30, 4, 15), (10, 30, 2, 15)]
    assert band_rects(mask, 30, 15, max_gap=10) == [(1, 30, 11, 15)]
    assert band_rects(bytes(10), 0, 15) == []


@pytest.mark.parametrize(
    ("text", "mods", "keysym"),
    [
        ("Mod4+semicolon", 1 << 6, 0x3B),
        ("Mod4+Shift+semicolon", 1 << 6 | 1, 0x3B),
        ("mod4+Right", 1 << 6, 0xFF53),
        ("Super+Alt+s", 1 << 6 | 1 << 3, ord("s")),
        ("Ctrl+;", 1 << 2, 0x3B),
        ("F1", 0, 0xFFBE),
    ],
)
def test_parse_binding(text: str, mods: int, keysym: int) -> None:
    binding = parse_binding(text)
    assert (binding.modifiers, binding.keysym, binding.text) == (mods, keysym, text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "expected modifiers and a key"),
        ("Mod4+", "expected modifiers and a key"),
        ("Hyper+s", "unknown modifier 'Hyper'"),
        ("Mod4+nosuchkey", "unknown key name 'nosuchkey'"),
        ("Mod4+Shift", "has modifiers but no key"),
    ],
)
def test_parse_binding_errors_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(BindingError, match=message) as info:
        parse_binding(text)
    assert isinstance(info.value, UsageError)


def test_lock_subsets() -> None:
    assert sorted(_subsets(0b10010)) == [0, 0b10, 0b10000, 0b10010]
    assert _subsets(0) == [0]


def _xwd(width: int, height: int, pixels: list[int], *, lsb: bool, pad: int = 0, ncolors: int = 2) -> bytes:
    name = b"Xvfb screen\0"
    header_size = 100 + len(name)
    bytes_per_line = width * 4 + pad
    fields = [header_size, 7, 2, 24, width, height, 0, 0 if lsb else 1, 32, 0, 32, 32, bytes_per_line, 4]
    fields += [0xFF0000, 0xFF00, 0xFF, 8, 256, ncolors, width, height, 0, 0, 0]
    out = bytearray(struct.pack(">25I", *fields) + name + bytes(12 * ncolors))
    for y in range(height):
        for x in range(width):
            out += pixels[y * width + x].to_bytes(4, "little" if lsb else "big")
        out += bytes(pad)
    return bytes(out)


@pytest.mark.parametrize("lsb", [True, False])
def test_parse_xwd_reads_pixels(lsb: bool) -> None:
    image = parse_xwd(_xwd(2, 2, [0xFF0000, 0x00FF00, 0x0000FF, 0x123456], lsb=lsb, pad=8))
    assert (image.width, image.height) == (2, 2)
    assert image.pixel(0, 0) == (255, 0, 0)
    assert image.pixel(1, 0) == (0, 255, 0)
    assert image.pixel(0, 1) == (0, 0, 255)
    assert image.pixel(1, 1) == (0x12, 0x34, 0x56)
    with pytest.raises(IndexError):
        image.pixel(2, 0)


def test_parse_xwd_rejects_what_it_cannot_read() -> None:
    with pytest.raises(ValueError, match="too short"):
        parse_xwd(b"xx")
    blob = bytearray(_xwd(1, 1, [0], lsb=True))
    blob[4:8] = (6).to_bytes(4, "big")
    with pytest.raises(ValueError, match="version"):
        parse_xwd(bytes(blob))
    with pytest.raises(ValueError, match="truncated"):
        parse_xwd(_xwd(4, 4, [0] * 16, lsb=True)[:-5])


def test_the_package_exports_every_public_name_of_its_modules() -> None:
    import importlib

    import vwm_overlay.x11 as x11

    assert sorted(x11.__all__) == sorted(set(x11.__all__))
    for name in x11.__all__:
        assert hasattr(x11, name), name
    for module in ("capture", "clients", "compositor", "connection", "errors", "events", "hotkeys", "overlay"):
        mod = importlib.import_module(f"vwm_overlay.x11.{module}")
        missing = [n for n in mod.__all__ if n not in x11.__all__]
        assert not missing, (module, missing)


def test_changed_rects_cover_the_differing_pixels_band_by_band() -> None:
    width, height = 40, 2 * CHANGE_BAND_ROWS
    line = width * 4
    before = bytes(line * height)
    now = bytearray(before)

    def put(x: int, y: int) -> None:
        now[y * line + x * 4 + 2] = 0xFF  # one byte of one pixel

    assert changed_rects(bytes(now), before, line, height) == []
    put(3, 1)
    put(6, 2)  # the next row: one rectangle over both rows' spans
    put(6 + CHANGE_GAP + 1, 2)  # farther than the gap: a rectangle of its own
    put(39, CHANGE_BAND_ROWS + 5)  # the next band: its own rectangles, only as tall as its changed rows
    assert changed_rects(bytes(now), before, line, height) == [
        (3, 1, 4, 2),
        (6 + CHANGE_GAP + 1, 1, 1, 2),
        (39, CHANGE_BAND_ROWS + 5, 1, 1),
    ]
