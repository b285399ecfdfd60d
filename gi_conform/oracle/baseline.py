"""``--baseline REPORT.json``: a previous check report read back as the (case id, failure
key) pairs it failed with (:class:`~gi_conform.oracle.model.Baseline`; compared with a run
by :func:`gi_conform.oracle.deviations.compare_baseline`).

The report is untrusted input: the page's reader (:mod:`gi_conform.oracle.page_model`)
checks its shape and names the first thing that is wrong.
"""

from __future__ import annotations

import json
from pathlib import Path

from gi_conform.oracle.model import Baseline
from gi_conform.oracle.page_model import ReportError, read_report

__all__ = ["BaselineError", "baseline_of", "load_baseline"]


class BaselineError(ValueError):
    """Raised when a baseline report cannot be read; the message names the file."""


def baseline_of(data: object, source: str) -> Baseline:
    """A report's JSON data as a baseline; raises :class:`BaselineError`."""
    try:
        report = read_report(data, source)
    except ReportError as error:
        raise BaselineError(f"--baseline {error}") from None
    pairs: set[tuple[str, str]] = set()
    for case in report.cases:
        if case.bad or case.known_deviation:
            pairs.update((case.id, key) for key in case.keys)
    return Baseline(
        source=source,
        pairs=frozenset(pairs),
        cases=frozenset(case.id for case in report.cases),
        mode=report.mode,
    )


def load_baseline(path: Path) -> Baseline:
    """``--baseline REPORT.json``; raises :class:`BaselineError` naming the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise BaselineError(f"--baseline: cannot read {path}: {error}") from None
    try:
        data = json.loads(text)
    except ValueError as error:
        raise BaselineError(f"--baseline {path}: not JSON: {error}") from None
    return baseline_of(data, str(path))
