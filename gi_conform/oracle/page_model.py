"""JSON check reports read back for the conformance page (``gi-conform report``).

A report (``reference/report.schema.json``, written by ``gi-conform check --report
json``) is untrusted input here: it may come from anyone's implementation run. Reading it
checks the shape the page relies on and nothing more, names the first thing that is
wrong (``cases[3].outcome: expected one of ...``) and never lets a ``KeyError`` escape.
Figures (counts, the valid / invalid groups, conformance) are recomputed from the cases,
so the summary, the per-dialect rows and the matrix always agree.

A report made before the round-trip mode existed carries no mode: it is an ``argv``
report. The mode is read from ``options.mode`` or a top-level ``mode``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gi_conform.oracle.report import REPORT_FORMAT, REPORT_VERSION
from gi_conform.oracle.score import Group, Score, ScoredCase, score

__all__ = [
    "DEFAULT_MODE",
    "OUTCOMES",
    "PageCase",
    "PageFailure",
    "PageReport",
    "ReportError",
    "Tally",
    "load_report",
    "read_report",
    "tally",
]

DEFAULT_MODE = "argv"
"""The mode of a report that names none (every report before the round-trip mode)."""
OUTCOMES = ("passed", "failed", "skipped", "errored")
_DIALECT_ORDER = ("seed", "libvirt", "mixed", "none")


class ReportError(ValueError):
    """A report file is not JSON or not a check report of a version this page reads;
    the message names the file and the first offending field."""


@dataclass(frozen=True)
class PageFailure:
    """One difference of a case: ``kind`` (verdict, fact, ...), ``key``, ``message``."""

    kind: str
    key: str
    message: str


@dataclass(frozen=True)
class PageCase:
    """One case of one report, as the page shows it."""

    id: str
    source: str
    dialect: str
    profile: str
    expect: str
    outcome: str
    answer: str
    failures: tuple[PageFailure, ...] = ()
    diff: str = ""
    reason: str = ""
    error_kind: str = ""
    known_deviation: bool = False
    xml: str = ""

    @property
    def keys(self) -> tuple[str, ...]:
        """What the rule filter matches: failure keys, else the error kind."""
        keys = [f.key for f in self.failures]
        if self.error_kind:
            keys.append(self.error_kind)
        return tuple(dict.fromkeys(keys))

    @property
    def bad(self) -> bool:
        """Failed or errored (a known deviation is reported as skipped: not bad)."""
        return self.outcome in ("failed", "errored")


@dataclass(frozen=True)
class Tally:
    """Counts over some cases; the score as ``gi-conform check`` computes it."""

    cases: int
    passed: int
    failed: int
    skipped: int
    errored: int
    valid: Group = field(default_factory=Group)
    """The documents the reference accepts: passed = accepted and right."""
    invalid: Group = field(default_factory=Group)
    """The documents the reference rejects: passed = rejected (or kept invalid)."""

    @property
    def pass_rate(self) -> float:
        """Passed over the cases that ran (skips excluded), in percent; 100 when none ran."""
        ran = self.cases - self.skipped
        return 100.0 * self.passed / ran if ran else 100.0

    @property
    def conformance(self) -> float | None:
        """The headline: the balanced score (:mod:`gi_conform.oracle.score`); ``None``
        when no case ran. A report whose cases carry no ``expect`` falls back to the pass
        rate."""
        balanced = Score(self.valid, self.invalid).balanced
        if balanced is None and self.valid.cases + self.invalid.cases == 0:
            return self.pass_rate if self.cases > self.skipped else None
        return balanced


@dataclass(frozen=True)
class PageReport:
    """One report file: who was checked, how, and every case."""

    source: str
    """The file's name as given (the page shows its last component)."""
    spec: str
    name: str
    version: str
    label: str
    """``check --label``: the column's name as given; empty: made from name and mode."""
    mode: str
    started: str
    duration_s: float
    options: tuple[tuple[str, str], ...]
    """The run's options worth showing, as (name, value) text."""
    cases: tuple[PageCase, ...]

    def by_id(self) -> dict[str, PageCase]:
        return {case.id: case for case in self.cases}

    def dialects(self) -> tuple[str, ...]:
        """The dialects its cases have, in schema order (unknown ones after, sorted)."""
        seen = {case.dialect for case in self.cases}
        known = [d for d in _DIALECT_ORDER if d in seen]
        return (*known, *sorted(seen - set(known)))


def tally(cases: Iterable[PageCase]) -> Tally:
    counts = dict.fromkeys(OUTCOMES, 0)
    chosen = list(cases)
    for case in chosen:
        counts[case.outcome] += 1
    figures = score(ScoredCase(c.expect, c.outcome, c.known_deviation) for c in chosen)
    return Tally(
        len(chosen),
        counts["passed"],
        counts["failed"],
        counts["skipped"],
        counts["errored"],
        figures.valid,
        figures.invalid,
    )


class _Shape:
    """Reads fields with a path for messages: ``cases[3].failures[0].key``."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, path: str, problem: str) -> ReportError:
        return ReportError(f"{self.source}: {path}: {problem}")

    def mapping(self, value: object, path: str) -> Mapping[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(path, f"expected an object, got {_kind(value)}")
        return value

    def sequence(self, value: object, path: str) -> Sequence[Any]:
        if not isinstance(value, list):
            raise self.fail(path, f"expected an array, got {_kind(value)}")
        return value

    def text(self, data: Mapping[str, Any], key: str, path: str, default: str | None = None) -> str:
        if key not in data:
            if default is None:
                raise self.fail(f"{path}{key}", "missing")
            return default
        value = data[key]
        if not isinstance(value, str):
            raise self.fail(f"{path}{key}", f"expected a string, got {_kind(value)}")
        return value

    def choice(self, data: Mapping[str, Any], key: str, path: str, allowed: Sequence[str]) -> str:
        value = self.text(data, key, path)
        if value not in allowed:
            raise self.fail(f"{path}{key}", f"expected one of {', '.join(allowed)}, got {value!r}")
        return value

    def number(self, data: Mapping[str, Any], key: str, path: str) -> float:
        value = data.get(key, 0)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise self.fail(f"{path}{key}", "expected a number >= 0")
        return float(value)


def _kind(value: object) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(
        type(value), "null" if value is None else "a number"
    )


def _failure(shape: _Shape, value: object, path: str) -> PageFailure:
    data = shape.mapping(value, path)
    return PageFailure(
        kind=shape.text(data, "kind", f"{path}."),
        key=shape.text(data, "key", f"{path}."),
        message=shape.text(data, "message", f"{path}."),
    )


def _case(shape: _Shape, value: object, path: str) -> PageCase:
    data = shape.mapping(value, path)
    at = f"{path}."
    failures = shape.sequence(data.get("failures", []), f"{at}failures")
    return PageCase(
        id=shape.text(data, "id", at),
        source=shape.text(data, "source", at, "corpus"),
        dialect=shape.text(data, "dialect", at),
        profile=shape.text(data, "profile", at, ""),
        expect=shape.text(data, "expect", at, ""),
        outcome=shape.choice(data, "outcome", at, OUTCOMES),
        answer=shape.text(data, "answer", at, ""),
        failures=tuple(
            _failure(shape, item, f"{at}failures[{i}]") for i, item in enumerate(failures)
        ),
        diff=shape.text(data, "diff", at, ""),
        reason=shape.text(data, "reason", at, ""),
        error_kind=shape.text(data, "error_kind", at, ""),
        known_deviation=data.get("known_deviation") is True,
        xml=shape.text(data, "xml", at, ""),
    )


def _options(options: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    shown: list[tuple[str, str]] = []
    keys = ("profile", "corpus", "generated", "seed", "generated_from", "strict", "messages")
    for key in (*keys, "dialects"):
        value = options.get(key)
        if isinstance(value, bool):
            shown.append((key, "yes" if value else "no"))
        elif isinstance(value, int | float | str):
            shown.append((key, str(value)))
        elif isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            shown.append((key, ", ".join(value)))
    return tuple(shown)


def _generator(value: object) -> tuple[tuple[str, str], ...]:
    """The versions that drew the generated documents, when the report names them."""
    if not isinstance(value, dict):
        return ()
    named = [f"{k} {v}" for k, v in value.items() if isinstance(k, str) and isinstance(v, str)]
    return (("generator", ", ".join(named)),) if named else ()


def read_report(data: object, source: str) -> PageReport:
    """A parsed JSON report as the page's model; raises :class:`ReportError`."""
    shape = _Shape(source)
    top = shape.mapping(data, "the document")
    if top.get("format") != REPORT_FORMAT:
        raise ReportError(
            f"{source}: not a gi-conform check report (its format is not {REPORT_FORMAT!r})"
        )
    if top.get("version") != REPORT_VERSION:
        raise ReportError(
            f"{source}: report version {top.get('version')!r}; this gi-conform reads "
            f"version {REPORT_VERSION}"
        )
    impl = shape.mapping(top.get("implementation"), "implementation")
    options = shape.mapping(top.get("options", {}), "options")
    mode = options.get("mode", top.get("mode", DEFAULT_MODE))
    if not isinstance(mode, str) or not mode:
        raise shape.fail("options.mode", "expected a non-empty string")
    cases = shape.sequence(top.get("cases"), "cases")
    return PageReport(
        source=source,
        spec=shape.text(impl, "spec", "implementation."),
        name=shape.text(impl, "name", "implementation."),
        label=shape.text(impl, "label", "implementation.", ""),
        version=shape.text(impl, "version", "implementation.", ""),
        mode=mode,
        started=shape.text(top, "started", "", ""),
        duration_s=shape.number(top, "duration_s", ""),
        options=_options(options) + _generator(top.get("generator")),
        cases=tuple(_case(shape, item, f"cases[{i}]") for i, item in enumerate(cases)),
    )


def load_report(text: str | bytes, source: str) -> PageReport:
    """A report file's text as the page's model; raises :class:`ReportError` for text
    that is not JSON (with line and column) or not a report."""
    try:
        data = json.loads(text)
    except UnicodeDecodeError as error:
        raise ReportError(f"{source}: not UTF-8 text ({error.reason})") from None
    except json.JSONDecodeError as error:
        raise ReportError(
            f"{source}: not JSON: {error.msg} (line {error.lineno}, column {error.colno})"
        ) from None
    except RecursionError:
        raise ReportError(f"{source}: not JSON: nested too deeply") from None
    return read_report(data, source)
