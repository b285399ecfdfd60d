"""Numbers as libvirt and QEMU read them: sizes with libvirt's units (``memory='8'
unit='GiB'``) in bytes, and C ``strtoul``-style unsigned integers."""

from __future__ import annotations

import functools
import re

__all__ = ["MAX_U64", "NumberTooLarge", "UnitError", "c_uint", "exact_bytes", "to_bytes"]

_POWERS: dict[str, int] = {"k": 1, "m": 2, "g": 3, "t": 4, "p": 5, "e": 6}
MAX_U64 = 2**64 - 1
_MAX_BYTES = MAX_U64
_C_UINT = re.compile(r"0[xX](?P<hex>[0-9a-fA-F]+)|0(?P<oct>[0-7]+)|(?P<dec>0|[1-9][0-9]*)")
_C_UINT_MAX_DIGITS = 22
"""An octal u64 needs 22 digits; longer text is refused before int() does any work."""


class UnitError(ValueError):
    """Raised for a size or unit libvirt would refuse; the message says why."""


@functools.lru_cache(maxsize=64)  # a document repeats a handful of units per cell
def _scale(unit: str) -> int:
    """libvirt's virScaleInteger: case-insensitive; ``KB`` is 1000, ``K``/``KiB`` 1024."""
    lowered = unit.lower()
    if lowered in ("b", "bytes"):
        return 1
    power = _POWERS.get(lowered[:1])
    if power is None:
        raise UnitError(f"unknown unit '{unit}'")
    rest = lowered[1:]
    if rest in ("", "ib"):
        return int(1024**power)
    if rest == "b":
        return int(1000**power)
    raise UnitError(f"unknown unit '{unit}'")


def exact_bytes(value: str, unit: str | None, *, default_unit: str = "KiB") -> int:
    """A libvirt size in bytes, not rounded (HMAT cache lines are a few bytes)."""
    text = value.strip()
    if not text.isascii() or not text.isdigit():
        raise UnitError("negative size" if text.startswith("-") else "not a non-negative integer")
    if len(text) > 30:
        raise UnitError("size too large")
    size = int(text) * _scale(unit if unit else default_unit)
    if size > _MAX_BYTES:
        raise UnitError("size too large (over 2^64 bytes)")
    return size


def to_bytes(value: str, unit: str | None, *, default_unit: str = "KiB") -> int:
    """Convert a libvirt size to bytes, rounded up to whole KiB as libvirt stores it."""
    text = value.strip()
    if not text.isascii() or not text.isdigit():
        if text.startswith("-"):
            raise UnitError("negative size")
        raise UnitError("not a non-negative integer")
    if len(text) > 30:
        raise UnitError("size too large")
    size = int(text) * _scale(unit if unit else default_unit)
    kib = -(-size // 1024)
    if kib * 1024 > _MAX_BYTES:
        raise UnitError("size too large (over 2^64 bytes)")
    return kib * 1024


_PLAIN_DECIMAL_DIGITS = 20
"""Decimals of up to 19 digits are below 10**19 < 2**64: they always fit."""


class NumberTooLarge(ValueError):
    """Raised by :func:`c_uint` for a well-formed number beyond 64 bits."""


def c_uint(text: str) -> int:
    """An unsigned integer as C's ``strtoull(text, NULL, 0)`` reads it, in 64 bits.

    libvirt reads addresses and ids this way, QEMU its integer properties. Only digits
    after an optional ``0x``/``0``: no sign, no underscore, no inner space, which Python's
    int() would take. Raises ValueError (:class:`NumberTooLarge` beyond 64 bits).
    """
    plain = text.isascii() and text.isdigit() and len(text) < _PLAIN_DECIMAL_DIGITS
    if plain and (text[0] != "0" or len(text) == 1):  # the common spelling: no pattern
        return int(text)
    match = _C_UINT.fullmatch(text.strip())
    digits = None if match is None else match["hex"] or match["oct"] or match["dec"]
    if match is None or digits is None or len(digits) > _C_UINT_MAX_DIGITS:
        raise ValueError("not an unsigned number (decimal, 0x hex or 0 octal)")
    base = 16 if match["hex"] is not None else 8 if match["oct"] is not None else 10
    number = int(digits, base)
    if number > MAX_U64:
        raise NumberTooLarge("does not fit in 64 bits")
    return number
