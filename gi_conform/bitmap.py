"""libvirt's bitmap syntax (``cpus='0-3,^2'``, ``nodeset='1-8'``), parsed and printed.

Kept separate from the parser because the same grammar serves cell CPU lists, initiator
nodesets and the argv formatter's ``cpus=`` ranges.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["BitmapError", "EmptyBitmapError", "format_bitmap", "parse_bitmap", "ranges"]

_ITEM = re.compile(r"(\^)?([0-9]+)(?:-([0-9]+))?\Z")


class BitmapError(ValueError):
    """Raised for text that is not a bitmap libvirt would accept; the message says why."""


class EmptyBitmapError(BitmapError):
    """Well-formed text that selects nothing (``0,^0``): libvirt parses it, then refuses an
    empty set with a message of its own (``Invalid value of 'nodeset': 0,^0``)."""


def parse_bitmap(text: str, *, limit: int) -> tuple[int, ...]:
    """Parse ``text`` left to right as libvirt does: ``^N`` clears what came before.

    Values must be below ``limit`` (libvirt uses 16384 for CPU masks); the result is the
    ascending tuple of set bits and must not be empty.
    """
    if text.strip() == "":
        raise BitmapError("empty list")
    bits: set[int] = set()
    for item in text.split(","):
        match = _ITEM.match(item)
        if match is None:
            raise BitmapError(f"'{item}' is not N, N-M or ^N")
        negate, first_text, last_text = match.groups()
        if negate and last_text is not None:
            raise BitmapError(f"'{item}': an exclusion takes a single number")
        if len(first_text) > 9 or (last_text is not None and len(last_text) > 9):
            raise BitmapError(f"'{item}': number too large (limit {limit - 1})")
        first = int(first_text)
        last = int(last_text) if last_text is not None else first
        if first > last:
            raise BitmapError(f"'{item}': range runs backwards")
        if last >= limit:
            raise BitmapError(f"'{item}': {last} exceeds the limit {limit - 1}")
        if negate:
            bits.discard(first)
        else:
            bits.update(range(first, last + 1))
    if not bits:
        raise EmptyBitmapError("the list selects nothing")
    return tuple(sorted(bits))


def ranges(values: Iterable[int]) -> list[tuple[int, int]]:
    """Group values into maximal ascending runs: ``[0,1,2,5]`` -> ``[(0,2),(5,5)]``."""
    runs: list[tuple[int, int]] = []
    for value in sorted(set(values)):
        if runs and runs[-1][1] == value - 1:
            runs[-1] = (runs[-1][0], value)
        else:
            runs.append((value, value))
    return runs


def format_bitmap(values: Iterable[int]) -> str:
    """The canonical text for a set of values: ``0-2,5``."""
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in ranges(values))
