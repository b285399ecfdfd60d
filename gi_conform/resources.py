"""Where the golden corpus and the normative files live, in a checkout or in a wheel.

A wheel carries ``cases/`` and ``reference/`` as package data under ``gi_conform/_data``;
a checkout (or an editable install) has them beside the package.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["cases_dir", "reference_dir"]

_PACKAGE = Path(__file__).resolve().parent


def _data_dir(name: str) -> Path:
    bundled = _PACKAGE / "_data" / name
    if bundled.is_dir():
        return bundled
    return _PACKAGE.parent / name


def cases_dir() -> Path:
    """The golden corpus: ``ID.xml`` with ``ID.<profile>.args`` or ``ID.err``."""
    return _data_dir("cases")


def reference_dir() -> Path:
    """Normative material: the rule catalogue, schemas, the seed cover letter."""
    return _data_dir("reference")
