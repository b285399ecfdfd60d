"""Memory sizes with libvirt's units (``memory='8' unit='GiB'``), converted to bytes."""

from __future__ import annotations

__all__ = ["UnitError", "exact_bytes", "to_bytes"]

_POWERS: dict[str, int] = {"k": 1, "m": 2, "g": 3, "t": 4, "p": 5, "e": 6}
_MAX_BYTES = 2**64 - 1


class UnitError(ValueError):
    """Raised for a size or unit libvirt would refuse; the message says why."""


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
