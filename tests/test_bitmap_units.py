"""libvirt's bitmap grammar and memory units, checked against values worked out by hand."""

from __future__ import annotations

import pytest

from gi_conform.bitmap import BitmapError, format_bitmap, parse_bitmap, ranges
from gi_conform.units import UnitError, to_bytes


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
