"""What a check tells people and tools: a summary, a JSON report, JUnit XML.

The summary is for a person at a terminal: counts and conformance first (the balanced
score of :mod:`gi_conform.oracle.score`, valid and invalid documents apart), then failures
grouped by rule / invariant / fact, then the first few cases in detail with their argv
diff. The JSON report follows ``reference/report.schema.json`` (versioned); JUnit XML is
for CI dashboards.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from gi_conform.oracle.model import CaseResult, Outcome
from gi_conform.oracle.runner import CheckRun
from gi_conform.oracle.score import Group, Score

__all__ = [
    "REPORT_FORMAT",
    "REPORT_VERSION",
    "json_report",
    "junit_xml",
    "percent",
    "score_line",
    "summary",
    "write_report",
]

REPORT_FORMAT = "gi-conform-check-report"
REPORT_VERSION = 1
_MAX_FAILURE_LINES = 6
_MAX_DIFF_LINES = 30
_MAX_XML_BYTES = 1 << 20
"""Generated documents up to this size ride along in the JSON report when they fail."""


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def _indent(text: str, prefix: str = "    ") -> str:
    return "".join(f"{prefix}{line}\n" for line in text.splitlines())


def percent(value: float | None) -> str:
    """A rate as the reports print it; ``n/a`` when no case ran."""
    return "n/a" if value is None else f"{value:.1f}%"


def score_line(figures: Score, mode: str = "argv") -> str:
    """Valid and invalid documents apart, and how the headline is made of them."""
    kept = "rejected or kept invalid" if mode == "roundtrip" else "rejected"
    return (
        f"(valid: {figures.valid.passed} of {figures.valid.ran} accepted and right, "
        f"{percent(figures.valid.rate)}; invalid: {figures.invalid.passed} of "
        f"{figures.invalid.ran} {kept}, {percent(figures.invalid.rate)}; "
        "conformance = their mean)"
    )


def _detail(result: CaseResult) -> str:
    case = result.case
    head = f"  {result.outcome.upper()} {case.id} [{case.source}, profile {case.profile}]"
    if result.outcome is Outcome.ERRORED:
        context = result.reason.splitlines()
        lines = [head, *(f"    {line}" for line in context[:_MAX_FAILURE_LINES])]
        return "\n".join(lines) + "\n"
    lines = [head]
    shown = result.failures[:_MAX_FAILURE_LINES]
    lines.extend(f"    {f.key}: {f.message}" for f in shown)
    if len(result.failures) > len(shown):
        lines.append(f"    ... and {len(result.failures) - len(shown)} more")
    text = "\n".join(lines) + "\n"
    if result.diff:
        diff = result.diff.splitlines()
        clipped = diff[:_MAX_DIFF_LINES]
        if len(diff) > len(clipped):
            clipped.append(f"... ({len(diff) - len(clipped)} more diff lines)")
        text += _indent("\n".join(clipped))
    return text


def _pair(case_id: str, key: str | None) -> str:
    return case_id if key is None else f"{case_id} {key}"


def _listing(pairs: Sequence[tuple[str, str | None]], limit: int = 20) -> list[str]:
    lines = [f"  {_pair(*pair)}" for pair in pairs[:limit]]
    if len(pairs) > limit:
        lines.append(f"  ... and {len(pairs) - limit} more")
    return lines


def _deviation_lines(run: CheckRun) -> list[str]:
    if not run.options.known_deviations:
        return []
    review = run.deviation_review()
    out = [""]
    skipped = sum(1 for r in run.results if r.known_deviation)
    out.append(f"{_plural(skipped, 'known deviation')} skipped")
    if review.stale:
        out.append("known deviations that no longer occur (remove them):")
        out.extend(_listing(review.stale))
    if review.not_in_run:
        out.append(
            "known deviations for cases not in this run (misspelled, or not selected): "
            + ", ".join(review.not_in_run)
        )
    if review.any_key:
        out.append(
            "warning: known deviations that name no failure key cover any failure of the "
            "case, a new one too (write 'CASE-ID KEY: reason'): " + ", ".join(review.any_key)
        )
    return out


def _baseline_lines(run: CheckRun) -> list[str]:
    baseline = run.options.baseline
    if baseline is None:
        return []
    diff = run.baseline_diff()
    out = ["", f"baseline {baseline.source}: {_plural(len(baseline.pairs), 'failure')}"]
    if diff.new:
        out.append(f"{_plural(len(diff.new), 'new failure')} (case, key) not in the baseline:")
        out.extend(_listing(diff.new))
    else:
        out.append("no new failure")
    if diff.gone:
        out.append(f"{_plural(len(diff.gone), 'failure')} of the baseline gone (fixed?):")
        out.extend(_listing(diff.gone))
    if diff.not_run:
        out.append(f"{_plural(len(diff.not_run), 'failure')} of the baseline in cases not run")
    return out


def summary(run: CheckRun, *, details: int = 3) -> str:
    """The text a person reads at a glance (no colour, so it suits logs too)."""
    info = run.info
    options = run.options
    name = info.name + (f" {info.version}" if info.version else "")
    total = len(run.results)
    corpus = sum(1 for r in run.results if r.case.source == "corpus")
    head = f"{options.label} ({name})" if options.label else name
    out = [f"gi-conform check: {head}" + (f" ({run.impl})" if run.impl not in name else "")]
    out.append(
        f"{_plural(total, 'case')}: {run.count(Outcome.PASSED)} passed, "
        f"{run.count(Outcome.FAILED)} failed, {run.count(Outcome.SKIPPED)} skipped, "
        f"{run.count(Outcome.ERRORED)} errored; conformance {percent(run.conformance)}"
    )
    out.append(score_line(run.score, options.mode))
    drawn = f"seed {options.seed}"
    if options.generated_from is not None:
        drawn += f", frozen in {options.generated_from}"
    elif options.generated and "hypothesis" in run.generator:
        drawn += f", Hypothesis {run.generator['hypothesis']}"
    flags = [f"corpus {corpus}", f"generated {total - corpus} ({drawn})"]
    flags.append(f"profile {options.profile or 'auto'}")
    if options.mode != "argv":
        flags.append(f"mode {options.mode}")
    flags.extend(
        name for name, on in (("strict", options.strict), ("messages", options.messages)) if on
    )
    if options.reject_pattern is not None:
        flags.append(f"reject pattern {options.reject_pattern!r}")
    out.append(f"({', '.join(flags)}; {run.duration:.1f} s)")
    keys = run.failure_keys()
    if keys:
        out.append("")
        out.append("failures by rule / invariant / fact:")
        width = max(len(key) for _, key in keys)
        for (kind, key), count in sorted(keys.items(), key=lambda item: (-item[1], item[0])):
            out.append(f"  {kind:<10} {key:<{width}}  {_plural(count, 'case')}")
    bad = [r for r in run.results if r.outcome in (Outcome.FAILED, Outcome.ERRORED)]
    if bad and details > 0:
        out.append("")
        out.append(f"first {min(details, len(bad))} of {len(bad)} failing cases:")
        out.extend(_detail(r).rstrip("\n") for r in bad[:details])
    if run.shrunk:
        folder = run.options.failures_dir
        out.append("")
        out.append(f"shrunk generated failures written to {folder}:")
        out.extend(
            f"  {s.case_id} (from {s.original}, {s.key}): " + ", ".join(p.name for p in s.files)
            for s in run.shrunk
        )
    out.extend(_deviation_lines(run))
    out.extend(_baseline_lines(run))
    out.append("")
    if run.nothing_ran:
        out.append("FAIL (no case ran: the implementation skipped every case)")
    elif run.options.baseline is not None and run.ok:
        out.append("PASS (no failure that the baseline does not have)")
    else:
        out.append("PASS" if run.ok else "FAIL")
    return "\n".join(out) + "\n"


def _case_json(result: CaseResult) -> dict[str, Any]:
    case = result.case
    entry: dict[str, Any] = {
        "id": case.id,
        "source": case.source,
        "dialect": case.dialect,
        "profile": str(case.profile),
        "expect": "accept" if case.expectation.accepted else "reject",
        "outcome": str(result.outcome),
        "answer": str(result.answer.verdict),
        "duration_s": round(result.duration, 6),
        "failures": [
            {"kind": str(f.kind), "key": f.key, "message": f.message} for f in result.failures
        ],
    }
    if result.diff:
        entry["diff"] = result.diff
    if result.reason:
        entry["reason"] = result.reason
    if result.answer.error_kind is not None:
        entry["error_kind"] = str(result.answer.error_kind)
    if result.known_deviation:
        entry["known_deviation"] = True
    failing = result.outcome is not Outcome.PASSED
    if case.source == "generated" and failing and len(case.data) <= _MAX_XML_BYTES:
        entry["xml"] = case.data.decode("utf-8", "replace")
    return entry


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _group_json(group: Group) -> dict[str, Any]:
    return {
        "cases": group.cases,
        "ran": group.ran,
        "passed": group.passed,
        "rate": _round(group.rate),
    }


def _pairs_json(pairs: Sequence[tuple[str, str | None]]) -> list[dict[str, str]]:
    return [{"id": case_id, **({"key": key} if key else {})} for case_id, key in pairs]


def _expected_json(run: CheckRun) -> dict[str, Any]:
    """``known_deviations`` and ``baseline``, when the run had them (added in version 1)."""
    found: dict[str, Any] = {}
    if run.options.known_deviations:
        review = run.deviation_review()
        found["known_deviations"] = {
            "stale": _pairs_json(review.stale),
            "not_in_run": list(review.not_in_run),
            "any_key": list(review.any_key),
        }
    baseline = run.options.baseline
    if baseline is not None:
        diff = run.baseline_diff()
        found["baseline"] = {
            "file": baseline.source,
            "failures": len(baseline.pairs),
            "new": _pairs_json(diff.new),
            "gone": _pairs_json(diff.gone),
            "not_run": len(diff.not_run),
        }
    return found


def json_report(run: CheckRun) -> dict[str, Any]:
    """The report as JSON data (``reference/report.schema.json``)."""
    info = run.info
    options = run.options
    implementation: dict[str, Any] = {"spec": run.impl, "name": info.name}
    if options.label:
        implementation["label"] = options.label
    if info.version:
        implementation["version"] = info.version
    if info.dialects is not None:
        implementation["dialects"] = list(info.dialects)
    chosen: dict[str, Any] = {}
    if options.reject_pattern is not None:
        chosen["reject_pattern"] = options.reject_pattern
    return {
        "format": REPORT_FORMAT,
        "version": REPORT_VERSION,
        "implementation": implementation,
        "options": {
            "mode": str(options.mode),
            "dialects": list(options.dialects),
            "cases": list(options.patterns),
            "profile": str(options.profile) if options.profile else "auto",
            "corpus": options.use_corpus,
            "generated": options.generated,
            "seed": options.seed,
            "strict": options.strict,
            "messages": options.messages,
            "timeout_s": options.timeout,
            "validate_protocol": options.validate_protocol,
            **chosen,
            **(
                {"generated_from": str(options.generated_from)}
                if options.generated_from is not None
                else {}
            ),
        },
        "generator": dict(run.generator),
        "started": run.started,
        "duration_s": round(run.duration, 3),
        "summary": {
            "cases": len(run.results),
            "passed": run.count(Outcome.PASSED),
            "failed": run.count(Outcome.FAILED),
            "skipped": run.count(Outcome.SKIPPED),
            "errored": run.count(Outcome.ERRORED),
            "conformance": round(run.pass_rate, 2),
            "balanced": _round(run.conformance),
            "valid": _group_json(run.score.valid),
            "invalid": _group_json(run.score.invalid),
        },
        "failures_by_key": [
            {"kind": kind, "key": key, "cases": count}
            for (kind, key), count in sorted(
                run.failure_keys().items(), key=lambda item: (-item[1], item[0])
            )
        ],
        "shrunk": [
            {
                "id": s.case_id,
                "from": s.original,
                "key": s.key,
                "files": [str(p) for p in s.files],
            }
            for s in run.shrunk
        ],
        "cases": [_case_json(r) for r in run.results],
        **_expected_json(run),
    }


def _clean(text: str) -> str:
    """XML 1.0 cannot carry most control characters: replace them."""
    return "".join(
        ch
        if ch in "\t\n\r"
        or (" " <= ch <= "\ud7ff")
        or ("\ue000" <= ch <= "\ufffd")
        or ch >= "\U00010000"
        else "\ufffd"
        for ch in text
    )


def junit_xml(run: CheckRun) -> bytes:
    """One ``testsuite``; each case a ``testcase`` with failure, error or skipped."""
    suite = ElementTree.Element(
        "testsuite",
        name=f"gi-conform check {run.options.label or run.impl}"
        + ("" if run.options.mode == "argv" else f" ({run.options.mode})"),
        tests=str(len(run.results)),
        failures=str(run.count(Outcome.FAILED)),
        errors=str(run.count(Outcome.ERRORED)),
        skipped=str(run.count(Outcome.SKIPPED)),
        time=f"{run.duration:.3f}",
        timestamp=run.started,
    )
    properties = ElementTree.SubElement(suite, "properties")
    ElementTree.SubElement(properties, "property", name="mode", value=str(run.options.mode))
    ElementTree.SubElement(properties, "property", name="impl", value=_clean(run.impl))
    figures = run.score
    values = {
        "conformance": _round(run.conformance),
        "pass-rate": _round(run.pass_rate),
        "valid-cases": figures.valid.ran,
        "valid-passed": figures.valid.passed,
        "valid-rate": _round(figures.valid.rate),
        "invalid-cases": figures.invalid.ran,
        "invalid-passed": figures.invalid.passed,
        "invalid-rate": _round(figures.invalid.rate),
    }
    for name, value in values.items():
        text = "n/a" if value is None else str(value)
        ElementTree.SubElement(properties, "property", name=name, value=text)
    for result in run.results:
        testcase = ElementTree.SubElement(
            suite,
            "testcase",
            classname=f"gi-conform.{result.case.source}",
            name=result.case.id,
            time=f"{result.duration:.3f}",
        )
        if result.outcome is Outcome.FAILED:
            first = result.failures[0]
            element = ElementTree.SubElement(
                testcase, "failure", message=_clean(f"{first.key}: {first.message}"), type=first.key
            )
            lines = [f"{f.key}: {f.message}" for f in result.failures]
            element.text = _clean("\n".join(lines) + ("\n\n" + result.diff if result.diff else ""))
        elif result.outcome is Outcome.ERRORED:
            kind = str(result.answer.error_kind or "errored")
            element = ElementTree.SubElement(
                testcase, "error", message=_clean(result.reason.splitlines()[0]), type=kind
            )
            element.text = _clean(result.reason)
        elif result.outcome is Outcome.SKIPPED:
            ElementTree.SubElement(testcase, "skipped", message=_clean(result.reason))
    testsuites = ElementTree.Element("testsuites")
    testsuites.append(suite)
    ElementTree.indent(testsuites)
    data: bytes = ElementTree.tostring(testsuites, encoding="utf-8", xml_declaration=True)
    return data + b"\n"


def write_report(run: CheckRun, kind: str, path: Path) -> None:
    """Write ``--report KIND FILE``; raises ``OSError`` when the file cannot be written."""
    if kind == "json":
        path.write_text(json.dumps(json_report(run), indent=2) + "\n", encoding="utf-8")
    elif kind == "junit":
        path.write_bytes(junit_xml(run))
    else:
        raise ValueError(f"unknown report kind {kind!r}")


def report_kinds() -> Sequence[str]:
    return ("json", "junit")
