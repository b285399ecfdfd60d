"""libvirt's bitmap grammar and memory units, checked against values worked out by hand."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gi_conform.bitmap import BitmapError, format_bitmap, parse_bitmap, ranges
from gi_conform.units import MAX_U64, NumberTooLarge, UnitError, c_uint, to_bytes


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1-8", (1, 2, 3, 4, 5, 6, 7, 8)),
        ("0,2-4", (0, 2, 3, 4)),
        ("0-5,^3", (0, 1, 2, 4, 5)),
        ("4,3,3", (3, 4)),
        ("^3,3", (3,)),
        ("7", (7,)),
    ],
)
def test_parse_bitmap(text: str, expected: tuple[int, ...]) -> None:
    assert parse_bitmap(text, limit=128) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("abc", "not N"),
        ("3-1", "backwards"),
        ("-1", "not N"),
        ("^3", "selects nothing"),
        ("1-^3", "not N"),
        ("^1-3", "single number"),
        ("128", "exceeds the limit"),
        ("0-99999999999999", "too large"),
        ("1,,2", "not N"),
        (" 1", "not N"),
    ],
)
def test_parse_bitmap_rejects(text: str, reason: str) -> None:
    with pytest.raises(BitmapError, match=reason):
        parse_bitmap(text, limit=128)


def test_ranges_and_format() -> None:
    assert ranges([5, 0, 1, 2, 8, 9]) == [(0, 2), (5, 5), (8, 9)]
    assert format_bitmap([3, 1, 2, 7]) == "1-3,7"
    assert format_bitmap([]) == ""


@pytest.mark.parametrize(
    ("value", "unit", "expected"),
    [
        ("8388608", None, 8 * 2**30),
        ("8388608", "KiB", 8 * 2**30),
        ("8", "G", 8 * 2**30),
        ("8", "GiB", 8 * 2**30),
        ("8", "gib", 8 * 2**30),
        ("1", "GB", 1_000_000_512),  # 10^9 bytes, rounded up to whole KiB
        ("1000", "KB", 1_000_448),
        ("512", "M", 512 * 2**20),
        ("1", "T", 2**40),
        ("1", "TB", 10**12),
        ("1024", "b", 1024),
        ("1", "bytes", 1024),
        ("0", "KiB", 0),
        ("1", "k", 1024),
    ],
)
def test_to_bytes(value: str, unit: str | None, expected: int) -> None:
    assert to_bytes(value, unit) == expected


@pytest.mark.parametrize(
    ("value", "unit", "reason"),
    [
        ("-1", "KiB", "negative"),
        ("1.5", "GiB", "not a non-negative integer"),
        ("", "KiB", "not a non-negative integer"),
        ("8", "XB", "unknown unit"),
        ("8", "Gi", "unknown unit"),
        ("99999999999999999999", "EiB", "too large"),
        ("1" * 40, "b", "too large"),
    ],
)
def test_to_bytes_rejects(value: str, unit: str, reason: str) -> None:
    with pytest.raises(UnitError, match=reason):
        to_bytes(value, unit)


def _strtoull(text: str) -> int | str:
    """C's strtoull(text, NULL, 0) for a whole string, written out plainly: the oracle
    for c_uint's fast path (``"TL"``: beyond 64 bits, ``"VE"``: not a number)."""
    body = text.strip(" \t\n\r\v\f")
    if body[:2] in ("0x", "0X") and body[2:] and all(c in string.hexdigits for c in body[2:]):
        digits, base = body[2:], 16
    elif body and body.isascii() and body.isdigit():
        octal = body[0] == "0" and len(body) > 1
        digits, base = (body[1:], 8) if octal else (body, 10)
        if base == 8 and any(c in "89" for c in digits):
            return "VE"
    else:
        return "VE"
    if len(digits) > 22:  # c_uint refuses more digits than an octal u64 needs, unread
        return "VE"
    value = int(digits, base)
    return "TL" if value > MAX_U64 else value


@given(
    st.one_of(
        st.text(alphabet="0123456789xXabcdefABCDEF \t-+_", max_size=24),
        st.integers(0, 2**70).map(str),
        st.integers(0, 2**70).map(hex),
        st.integers(0, 2**70).map(lambda n: f"0{n:o}"),
    )
)
def test_c_uint_reads_as_strtoull(text: str) -> None:
    try:
        got: int | str = c_uint(text)
    except NumberTooLarge:
        got = "TL"
    except ValueError:
        got = "VE"
    assert got == _strtoull(text)
