"""Decoding X text properties: STRING, UTF8_STRING and COMPOUND_TEXT.

A title set through Xlib's locale functions (``xterm -T "日本語 café"``,
``XmbSetWMProperties``) arrives as COMPOUND_TEXT when it does not fit Latin-1:
ISO 2022 text whose escape sequences switch the character set of the left
(GL, bytes 0x20-0x7F) and right (GR, 0xA0-0xFF) halves.  The X Consortium's
"Compound Text Encoding" (version 1.1) defines it; this decoder knows the sets
libX11 writes (the ISO 8859 parts, the JIS, GB and KS sets, UTF-8 segments,
and the common extended segments) and shows anything else as U+FFFD rather
than as escape bytes.
"""

from __future__ import annotations

__all__ = ["decode_compound_text", "decode_text_property"]

ESC = 0x1B
CSI = 0x9B  # direction changes (CSI 1 ], CSI 2 ], CSI ]): no effect on the characters

#: 96-character sets, designated to GR by ``ESC - F``: the final byte F names the ISO 8859 part.
_SETS_96 = {
    "A": "latin_1",
    "B": "iso8859_2",
    "C": "iso8859_3",
    "D": "iso8859_4",
    "F": "iso8859_7",
    "G": "iso8859_6",
    "H": "iso8859_8",
    "L": "iso8859_5",
    "M": "iso8859_9",
    "T": "tis_620",
    "V": "iso8859_10",
    "Y": "iso8859_13",
    "_": "iso8859_14",
    "b": "iso8859_15",
    "f": "iso8859_16",
}
#: 94x94 two-byte sets (``ESC $ ( F`` to GL, ``ESC $ ) F`` to GR), decoded through their EUC codecs
#: (which put both bytes in GR).
_SETS_94N = {"@": "euc_jp", "A": "gb2312", "B": "euc_jp", "C": "euc_kr"}
#: Extended segments (``ESC % / F M L name STX bytes``): the name, lower case, to a codec.
_SEGMENTS = {
    "big5-0": "big5",
    "gbk-0": "gbk",
    "gb18030-0": "gb18030",
    "iso10646-1": "utf_16_be",
    "utf-8": "utf_8",
    "koi8-r": "koi8_r",
    "koi8-u": "koi8_u",
    "iso8859-15": "iso8859_15",
    "iso8859-14": "iso8859_14",
}

_ASCII = ("ascii", 1)
_LATIN1 = ("latin_1", 1)
_KATAKANA = ("katakana", 1)  # JIS X 0201 right half, designated as a 94-set


def decode_text_property(type_name: str | None, raw: bytes) -> str:
    """The text of a property of type ``type_name`` (STRING is Latin-1; anything unknown is taken as UTF-8)."""
    if type_name == "COMPOUND_TEXT":
        return decode_compound_text(raw)
    if type_name == "STRING":
        return raw.decode("latin_1")
    return raw.decode("utf-8", "replace")


def decode_compound_text(raw: bytes) -> str:
    """Decode COMPOUND_TEXT; malformed or unknown parts become U+FFFD, never escape bytes."""
    out: list[str] = []
    gl, gr = _ASCII, _LATIN1
    i, n = 0, len(raw)
    while i < n:
        byte = raw[i]
        if byte == ESC:
            i, gl, gr = _escape(raw, i, gl, gr, out)
            continue
        if byte == CSI:
            end = raw.find(b"]", i)
            i = n if end < 0 else end + 1
            continue
        if byte in (0x09, 0x0A):
            out.append(chr(byte))
            i += 1
            continue
        if byte < 0x20 or 0x7F <= byte < 0xA0:
            i += 1  # other controls carry no text
            continue
        if byte == 0x20:
            out.append(" ")  # 94-character sets leave the space alone
            i += 1
            continue
        codec, width = gl if byte < 0x80 else gr
        chunk = raw[i : i + width]
        i += width
        out.append(_char(codec, bytes(b | 0x80 for b in chunk), len(chunk) == width))
    return "".join(out)


def _char(codec: str, high: bytes, whole: bool) -> str:
    """One character from its bytes with the high bit set (the EUC form), or U+FFFD."""
    if not whole or codec == "?":
        return "\ufffd"
    if codec == "ascii":
        return chr(high[0] & 0x7F)
    if codec == "katakana":
        return chr(0xFF61 + (high[0] & 0x7F) - 0x21) if 0xA1 <= high[0] <= 0xDF else "\ufffd"
    return high.decode(codec, "replace")


def _escape(
    raw: bytes, i: int, gl: tuple[str, int], gr: tuple[str, int], out: list[str]
) -> tuple[int, tuple[str, int], tuple[str, int]]:
    """Apply the escape sequence at ``raw[i]``; returns where the text goes on and the new GL and GR."""
    # An escape sequence: ESC, intermediate bytes 0x20-0x2F, one final byte 0x30-0x7E.
    j = i + 1
    while j < len(raw) and 0x20 <= raw[j] <= 0x2F:
        j += 1
    if j >= len(raw):
        out.append("\ufffd")
        return len(raw), gl, gr
    inter, final = raw[i + 1 : j].decode("latin_1"), chr(raw[j])
    j += 1
    if inter == "(":
        gl = {"B": _ASCII, "J": _ASCII, "I": _KATAKANA}.get(final, ("?", 1))
    elif inter == ")":
        gr = {"B": _ASCII, "J": _ASCII, "I": _KATAKANA}.get(final, ("?", 1))
    elif inter == "-":
        gr = (_SETS_96.get(final, "?"), 1)
    elif inter in ("$(", "$") and final in _SETS_94N:
        gl = (_SETS_94N[final], 2)
    elif inter == "$)" and final in _SETS_94N:
        gr = (_SETS_94N[final], 2)
    elif inter == "%" and final == "G":
        end = raw.find(b"\x1b%@", j)
        stop = len(raw) if end < 0 else end
        out.append(raw[j:stop].decode("utf-8", "replace"))
        return (stop if end < 0 else end + 3), gl, gr
    elif inter == "%/":
        if j + 2 > len(raw):
            out.append("\ufffd")
            return len(raw), gl, gr
        return _segment(raw, j, out), gl, gr
    else:
        gl = ("?", 1) if inter.startswith("$") else gl
    return j, gl, gr


def _segment(raw: bytes, j: int, out: list[str]) -> int:
    """An extended segment: two length bytes, then ``name STX data`` of that length."""
    length = ((raw[j] & 0x7F) << 7) | (raw[j + 1] & 0x7F)
    body = raw[j + 2 : j + 2 + length]
    name, _, data = body.partition(b"\x02")
    codec = _SEGMENTS.get(name.decode("latin_1").lower())
    out.append(data.decode(codec, "replace") if codec else "\ufffd")
    return j + 2 + length
