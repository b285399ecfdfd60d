"""Run a check: every case through one implementation, compared with the reference.

``run_check`` is what ``gi-conform check`` and the pytest plugin call; it never raises
for anything the implementation does (see :mod:`gi_conform.oracle.impls`), only for bad
options (:class:`~gi_conform.oracle.impls.SpecError`, :class:`KnownDeviationsError`).
"""

from __future__ import annotations

import datetime
import fnmatch
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from gi_conform.argv.build import Profile
from gi_conform.oracle.cases import corpus_cases, document_case
from gi_conform.oracle.deviations import (
    BaselineDiff,
    DeviationReview,
    KnownDeviationsError,
    compare_baseline,
    load_known_deviations,
    review_deviations,
)
from gi_conform.oracle.frozen import (
    generated_description,
    generated_id,
    generated_set_cases,
    generator_versions,
    read_generated_set,
)
from gi_conform.oracle.impls import Implementation
from gi_conform.oracle.model import (
    CaseResult,
    CheckCase,
    CheckOptions,
    ErrorKind,
    ImplInfo,
    Outcome,
    Verdict,
)
from gi_conform.oracle.score import Score, ScoredCase, score
from gi_conform.oracle.shrink import (
    GeneratedDocument,
    generate_documents,
    shrink_document,
    write_case,
)
from gi_conform.oracle.workers import check_case, open_for, run_cases

__all__ = [
    "CheckOptions",
    "CheckRun",
    "KnownDeviationsError",
    "ShrunkCase",
    "check_case",  # owned by gi_conform.oracle.workers; kept here for existing imports
    # KnownDeviationsError and load_known_deviations: owned by gi_conform.oracle.deviations
    "generated_cases",
    "load_known_deviations",
    "run_check",
    "select_cases",
]

Progress = Callable[[CaseResult], None]


@dataclass(frozen=True)
class ShrunkCase:
    """A generated failure, shrunk and written to ``--failures-dir`` as a corpus case."""

    case_id: str
    original: str
    key: str
    files: tuple[Path, ...]


@dataclass(frozen=True)
class CheckRun:
    """The outcome of a whole check."""

    impl: str
    info: ImplInfo
    options: CheckOptions
    results: tuple[CaseResult, ...]
    started: str
    duration: float
    shrunk: tuple[ShrunkCase, ...] = ()
    generator: Mapping[str, str] = field(default_factory=dict)
    """The versions that drew the generated documents (a frozen set's, or this process')."""

    def count(self, outcome: Outcome) -> int:
        return sum(1 for r in self.results if r.outcome is outcome)

    @property
    def pass_rate(self) -> float:
        """Passed over the cases that ran to a verdict (skips excluded), in percent.

        The JSON report's ``summary.conformance`` (its meaning is fixed in version 1);
        not the headline: rejecting everything scores the share of invalid cases here."""
        ran = len(self.results) - self.count(Outcome.SKIPPED)
        return 100.0 * self.count(Outcome.PASSED) / ran if ran else 100.0

    @property
    def score(self) -> Score:
        """Valid and invalid documents apart (:mod:`gi_conform.oracle.score`)."""
        return score(
            ScoredCase(
                "accept" if r.case.expectation.accepted else "reject",
                str(r.outcome),
                r.known_deviation,
            )
            for r in self.results
        )

    @property
    def conformance(self) -> float | None:
        """The headline: the balanced score in percent; ``None`` when no case ran."""
        return self.score.balanced

    @property
    def nothing_ran(self) -> bool:
        """Every case was skipped by the implementation: nothing was checked, so no pass."""
        return all(r.outcome is Outcome.SKIPPED and not r.known_deviation for r in self.results)

    @property
    def ok(self) -> bool:
        """Nothing failed or errored, and something ran; with a baseline: nothing failed
        that it did not."""
        if self.nothing_ran:
            return False
        if self.options.baseline is not None:
            return not self.baseline_diff().new
        return not self.count(Outcome.FAILED) and not self.count(Outcome.ERRORED)

    def baseline_diff(self) -> BaselineDiff:
        """New and gone failures against ``--baseline`` (nothing new without one)."""
        if self.options.baseline is None:
            return BaselineDiff((), (), ())
        return compare_baseline(self.options.baseline, self.results)

    def deviation_review(self) -> DeviationReview:
        """Known-deviation entries that are too broad, misspelled or stale."""
        return review_deviations(self.options.known_deviations, self.results)

    def failure_keys(self) -> Counter[tuple[str, str]]:
        """(kind, key) -> how many failed or errored cases show it (known deviations aside)."""
        counts: Counter[tuple[str, str]] = Counter()
        for result in self.results:
            if result.outcome is Outcome.ERRORED:
                counts["errored", str(result.answer.error_kind or "errored")] += 1
            elif result.outcome is Outcome.FAILED:
                counts.update({(str(f.kind), f.key) for f in result.failures})
        return counts

    def passing_deviations(self) -> list[str]:
        """Listed cases that now pass: their entries can go (see :meth:`deviation_review`)."""
        listed = self.options.known_deviations
        return [
            r.case.id for r in self.results if r.case.id in listed and r.outcome is Outcome.PASSED
        ]


def generated_cases(count: int, seed: int, profile: Profile | None = None) -> list[CheckCase]:
    """``count`` generated documents as cases ``gen-SEED-NNNN``, each with its expectation."""
    return [
        document_case(
            generated_id(seed, index),
            document.xml,
            profile=profile,
            description=generated_description(document, seed),
        )
        for index, document in enumerate(generate_documents(count, seed))
    ]


def select_cases(options: CheckOptions) -> list[CheckCase]:
    """The corpus (unless disabled) then the generated cases (drawn, or a frozen set's),
    filtered by the options."""
    cases: list[CheckCase] = []
    if options.use_corpus:
        cases.extend(
            corpus_cases(
                options.corpus,
                dialects=options.dialects,
                patterns=options.patterns,
                profile=options.profile,
            )
        )
    if options.generated_from is not None:
        cases.extend(
            generated_set_cases(
                options.generated_from,
                dialects=options.dialects,
                patterns=options.patterns,
                profile=options.profile,
            )
        )
        return cases
    for case in generated_cases(options.generated, options.seed, options.profile):
        if options.dialects and case.dialect not in options.dialects:
            continue
        if options.patterns and not any(fnmatch.fnmatchcase(case.id, p) for p in options.patterns):
            continue
        cases.append(case)
    return cases


def _signature(result: CaseResult) -> str:
    """What a shrunk document must keep failing with: the first key, or the error kind."""
    if result.outcome is Outcome.ERRORED or result.answer.verdict is Verdict.ERRORED:
        return f"errored:{result.answer.error_kind}"
    return result.keys[0] if result.keys else ""


def _shrink_failures(
    implementation: Implementation,
    results: Sequence[CaseResult],
    options: CheckOptions,
    status: Callable[[str], None] | None,
) -> list[ShrunkCase]:
    assert options.failures_dir is not None
    shrunk: list[ShrunkCase] = []
    done: set[str] = set()
    for result in results:
        if len(shrunk) >= options.max_shrinks:
            break
        if result.case.source != "generated" or result.outcome not in (
            Outcome.FAILED,
            Outcome.ERRORED,
        ):
            continue
        signature = _signature(result)
        if signature in done:
            continue
        done.add(signature)
        if status is not None:
            status(f"shrinking {result.case.id} ({signature})")
        target = GeneratedDocument(result.case.data.decode("utf-8"), None)
        minimal = target
        # A hang costs the whole timeout per candidate: keep the document as drawn.
        if result.answer.error_kind is not ErrorKind.TIMEOUT:

            def still_fails(document: GeneratedDocument, wanted: str = signature) -> bool:
                case = document_case("shrinking", document.xml, profile=options.profile)
                return _signature(check_case(implementation, case, options)) == wanted

            minimal = shrink_document(target, options.seed, options.generated, still_fails)
        case_id = f"{result.case.id}-min" if minimal is not target else result.case.id
        message = result.failures[0].message if result.failures else result.reason
        description = (
            f"Shrunk from generated case {result.case.id} (seed {options.seed}): "
            f"{implementation.info.name} fails with {signature}: "
            f"{(message.splitlines() or [''])[0]}"
        )
        files = write_case(options.failures_dir, case_id, minimal.xml, description=description)
        shrunk.append(ShrunkCase(case_id, result.case.id, signature, tuple(files)))
    return shrunk


def run_check(
    options: CheckOptions,
    *,
    cases: Sequence[CheckCase] | None = None,
    progress: Progress | None = None,
    status: Callable[[str], None] | None = None,
) -> CheckRun:
    """Check ``options.impl`` on ``cases`` (default: :func:`select_cases`).

    ``progress`` is called after each case, ``status`` with what shrinking is doing.
    """
    started = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    start = time.monotonic()
    chosen = list(cases) if cases is not None else select_cases(options)
    shrunk: list[ShrunkCase] = []
    with open_for(options) as implementation:
        results = run_cases(implementation, chosen, options, progress)
        if options.failures_dir is not None:
            shrunk = _shrink_failures(implementation, results, options, status)
        info = implementation.info
    if options.generated_from is not None:
        generator = dict(read_generated_set(options.generated_from).generator)
    else:
        generator = generator_versions()
    return CheckRun(
        generator=generator,
        impl=options.impl,
        info=info,
        options=options,
        results=tuple(results),
        started=started,
        duration=time.monotonic() - start,
        shrunk=tuple(shrunk),
    )
