"""Expected failures, named precisely: known deviations and baselines.

A case fails with one or more *failure keys* (rule, invariant, fact or round-trip ids;
an errored case with its error kind). Both ways of living with failures name the keys,
so that a new bug in a case that already fails some other way is still a failure:

- ``--known-deviations FILE``: ``case-id KEY: reason`` lines (or a JSON object ``{"case-id":
  {"KEY": "reason"}}``). A failing case is a known deviation (reported as skipped) only
  when every key it fails with is listed for it. A bare ``case-id: reason`` still covers
  any key, with a warning; entries for cases the run does not hold, and entries whose
  failure no longer occurs, are reported.
- ``--baseline REPORT.json``: a previous JSON report (read by
  :mod:`gi_conform.oracle.baseline`). Outcomes are unchanged (the score stays honest);
  the run fails only on (case id, key) pairs the baseline did not have, and names the
  pairs that disappeared.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from gi_conform.oracle.model import Baseline, CaseResult, KnownDeviations, Outcome, Verdict

__all__ = [
    "BaselineDiff",
    "DeviationReview",
    "KnownDeviationsError",
    "compare_baseline",
    "deviation_reason",
    "load_known_deviations",
    "result_keys",
    "review_deviations",
]

Pair = tuple[str, str]


class KnownDeviationsError(ValueError):
    """Raised when a known-deviations file cannot be read; the message says where."""


_LINE = re.compile(r"\s*([^\s:#]+)(?:\s+([^\s:#]+))?\s*:\s*(.*)")
_OLD_LINE = re.compile(r"\s*([^\s:#]+)\s+([^:]*)")
"""``CASE-ID reason`` without a colon (accepted before keys existed): any key."""


def _from_json(path: Path, text: str) -> dict[str, str | dict[str, str]]:
    try:
        data = json.loads(text)
    except ValueError as error:
        raise KnownDeviationsError(f"{path}: not valid JSON: {error}") from None
    problem = f"{path}: expected an object of case id -> reason or {{failure key: reason}}"
    if not isinstance(data, dict):
        raise KnownDeviationsError(problem)
    found: dict[str, str | dict[str, str]] = {}
    for case_id, value in data.items():
        if isinstance(value, str):
            found[case_id] = value
        elif (
            isinstance(value, dict)
            and value
            and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())
        ):
            found[case_id] = dict(value)
        else:
            raise KnownDeviationsError(f"{problem}; {case_id!r} is neither")
    return found


def load_known_deviations(path: Path) -> dict[str, str | dict[str, str]]:
    """Case id -> reason (any key) or {key: reason}, from a JSON object or lines
    ``CASE-ID KEY: reason`` / ``CASE-ID: reason`` (``#`` comments).

    Raises :class:`KnownDeviationsError` for an unreadable or malformed file.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise KnownDeviationsError(f"cannot read {path}: {error}") from None
    if text.lstrip().startswith(("{", "[")):
        return _from_json(path, text)
    found: dict[str, str | dict[str, str]] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _LINE.fullmatch(line)
        if match is None or not match[3].strip():
            old = _OLD_LINE.fullmatch(line) if ":" not in line else None
            if old is None or not old[2].strip():
                raise KnownDeviationsError(
                    f"{path}:{number}: expected 'CASE-ID KEY: reason' (or 'CASE-ID: reason' "
                    "for any key)"
                )
            found[old[1]] = old[2].strip()
            continue
        case_id, key, reason = match[1], match[2], match[3].strip()
        entry = found.get(case_id)
        if key is None:
            found[case_id] = reason  # any key: covers whatever was listed before
        elif not isinstance(entry, str):  # a bare entry already covers every key
            found[case_id] = {**(entry or {}), key: reason}
    return found


def result_keys(result: CaseResult) -> tuple[str, ...]:
    """What a case failed with: its failure keys, or its error kind when it errored."""
    if result.answer.verdict is Verdict.ERRORED:
        return (str(result.answer.error_kind or "errored"),)
    return result.keys


def deviation_reason(known: KnownDeviations, case_id: str, keys: Sequence[str]) -> str | None:
    """The reason when the known deviations cover every key of a failing case, else None."""
    entry = known.get(case_id)
    if entry is None or not keys:
        return None
    if isinstance(entry, str):
        return entry
    if not all(key in entry for key in keys):
        return None
    return "; ".join(dict.fromkeys(f"{key}: {entry[key]}" for key in keys))


@dataclass(frozen=True)
class DeviationReview:
    """What the known-deviations file says that the run does not bear out."""

    any_key: tuple[str, ...]
    """Bare entries: they cover any failure of the case, a new one too."""
    not_in_run: tuple[str, ...]
    """Entries for case ids the run does not hold (misspelled, or not selected)."""
    stale: tuple[tuple[str, str | None], ...]
    """(case id, key or None for a bare entry) whose failure did not occur: delete them."""


def review_deviations(known: KnownDeviations, results: Iterable[CaseResult]) -> DeviationReview:
    keys = {r.case.id: set(result_keys(r)) for r in results}
    stale: list[tuple[str, str | None]] = []
    for case_id, entry in known.items():
        if case_id not in keys:
            continue
        if isinstance(entry, str):
            if not keys[case_id]:
                stale.append((case_id, None))
        else:
            stale.extend((case_id, key) for key in entry if key not in keys[case_id])
    return DeviationReview(
        any_key=tuple(case_id for case_id, entry in known.items() if isinstance(entry, str)),
        not_in_run=tuple(case_id for case_id in known if case_id not in keys),
        stale=tuple(stale),
    )


@dataclass(frozen=True)
class BaselineDiff:
    """A run against a baseline: what is new (fails the run) and what is gone."""

    new: tuple[Pair, ...]
    gone: tuple[Pair, ...]
    """Pairs of the baseline whose case ran here and no longer fails with that key."""
    not_run: tuple[Pair, ...]
    """Pairs of the baseline whose case this run does not hold."""


def compare_baseline(baseline: Baseline, results: Sequence[CaseResult]) -> BaselineDiff:
    failing = (Outcome.FAILED, Outcome.ERRORED)
    new: list[Pair] = []
    seen: set[Pair] = set()
    for result in results:
        pairs = [(result.case.id, key) for key in result_keys(result)]
        seen.update(pairs)
        if result.outcome in failing:
            new.extend(pair for pair in pairs if pair not in baseline.pairs)
    ran = {r.case.id for r in results}
    old = sorted(baseline.pairs)
    return BaselineDiff(
        new=tuple(new),
        gone=tuple(p for p in old if p[0] in ran and p not in seen),
        not_run=tuple(p for p in old if p[0] not in ran),
    )
