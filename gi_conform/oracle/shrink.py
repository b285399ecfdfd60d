"""Generated documents, and shrinking a generated failure to a minimal document.

Both drive Hypothesis programmatically: a ``@given`` function run by hand with the
example database off, so a run depends on ``--seed`` alone (and the Hypothesis version).
Generation draws from ``gi_conform.strategies`` (valid and invalid documents); shrinking
replays the same seeded run and lets Hypothesis shrink the failing draw, with every
candidate checked against the implementation.
"""

from __future__ import annotations

import contextlib
import functools
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gi_conform.argv.build import Profile, build_argv, render_args
from gi_conform.document.validate import validate
from gi_conform.semantics import document_dialect

__all__ = [
    "GeneratedDocument",
    "ShrinkBudget",
    "case_files",
    "generate_documents",
    "shrink_document",
    "write_case",
]


@dataclass(frozen=True)
class GeneratedDocument:
    """One draw: the XML and, for an invalid document, the rule its mutation breaks."""

    xml: str
    rule: str | None


@dataclass(frozen=True)
class ShrinkBudget:
    """How much shrinking one failure may cost: implementation calls and seconds."""

    calls: int = 400
    seconds: float = 30.0


class _Found(Exception):
    """Raised in the test body to tell Hypothesis a draw is interesting."""


def _run_given(
    seed: int, count: int, body: Callable[[GeneratedDocument], None], *, shrink: bool
) -> None:
    """Run ``body`` over ``count`` seeded draws; with ``shrink``, a raise gets shrunk."""
    # Hypothesis loads on the first draw, not with this module: every gi-conform command
    # imports this module (through the runner) and must start fast; Hypothesis and the
    # strategies add about 0.1 s that only ``--generated N`` needs.
    import hypothesis  # noqa: PLC0415 (start-up time)

    from gi_conform import strategies  # noqa: PLC0415 (it imports Hypothesis)

    valid = strategies.domain_documents().map(lambda xml: GeneratedDocument(xml, None))
    invalid = strategies.invalid_documents().map(lambda pair: GeneratedDocument(pair[0], pair[1]))
    phases = [hypothesis.Phase.generate, hypothesis.Phase.shrink]
    if not shrink:
        phases = [hypothesis.Phase.generate]

    @hypothesis.seed(seed)
    @hypothesis.settings(
        max_examples=max(count, 1),
        database=None,
        deadline=None,
        derandomize=False,
        phases=phases,
        suppress_health_check=list(hypothesis.HealthCheck),
        report_multiple_bugs=False,
        print_blob=False,
        verbosity=hypothesis.Verbosity.quiet,
    )
    @hypothesis.given(hypothesis.strategies.one_of(valid, invalid))
    def run(document: GeneratedDocument) -> None:
        body(document)

    with _without_local_constants():
        run()


@contextlib.contextmanager
def _without_local_constants() -> Iterator[None]:
    """Draws that depend on the seed alone, not on which modules are loaded.

    Hypothesis (6.13x and later) mixes in constants it finds in the source of every
    *local* module loaded (the project's own, when it runs from a checkout or an
    editable install, not from site-packages), so the same seed drew other documents in
    ``check`` than in ``libvirt prove``, which imports more modules, and other ones
    again from a wheel. Measured: 139 documents of libvirt's dialects out of 200 in
    one, 122 in the other. Off while we draw; a private hook of Hypothesis, so if it
    moves, the draws are as Hypothesis makes them (a test says so).
    """
    try:
        from hypothesis.internal.conjecture import providers  # noqa: PLC0415 (lazy, as above)
    except ImportError:  # pragma: no cover - another Hypothesis layout
        yield
        return
    original = getattr(providers, "_get_local_constants", None)
    cache = getattr(providers, "CONSTANTS_CACHE", None)
    if original is None or cache is None or not hasattr(providers, "Constants"):
        yield  # pragma: no cover - another Hypothesis layout
        return
    cache.cache.clear()  # permitted constants cached from other draws of this process
    providers._get_local_constants = providers.Constants
    try:
        yield
    finally:
        providers._get_local_constants = original
        cache.cache.clear()


def generate_documents(count: int, seed: int) -> list[GeneratedDocument]:
    """``count`` documents (fewer only if Hypothesis runs out), the same for the same seed."""
    return list(_generate(count, seed)) if count > 0 else []


@functools.lru_cache(maxsize=8)
def _generate(count: int, seed: int) -> tuple[GeneratedDocument, ...]:
    """Cached: the CLI, the pytest plugin and shrinking all ask for the same draws."""
    found: list[GeneratedDocument] = []

    def collect(document: GeneratedDocument) -> None:
        if len(found) < count:
            found.append(document)

    _run_given(seed, count, collect, shrink=False)
    return tuple(found)


@dataclass
class _Shrinking:
    target: str
    reached: bool = False
    calls: int = 0
    best: GeneratedDocument | None = None
    started: float = field(default_factory=time.monotonic)


def shrink_document(
    target: GeneratedDocument,
    seed: int,
    count: int,
    still_fails: Callable[[GeneratedDocument], bool],
    budget: ShrinkBudget = ShrinkBudget(),
) -> GeneratedDocument:
    """The smallest document Hypothesis finds that ``still_fails`` like ``target``.

    Replays the run that drew ``target`` (same seed and count) without calling the
    implementation until ``target`` comes up, then shrinks it. Gives ``target`` back when
    the replay does not reach it (another Hypothesis version) or nothing smaller fails.
    """
    state = _Shrinking(target.xml)

    def interesting(document: GeneratedDocument) -> bool:
        if not state.reached:
            state.reached = document.xml == state.target
            return state.reached
        spent = time.monotonic() - state.started
        if state.calls >= budget.calls or spent >= budget.seconds:
            return False
        state.calls += 1
        return still_fails(document)

    def body(document: GeneratedDocument) -> None:
        # One raise site: Hypothesis tells failures apart by where they are raised.
        if interesting(document):
            if state.best is None or len(document.xml) < len(state.best.xml):
                state.best = document
            raise _Found

    # _Found when shrinking ends, or Hypothesis' Flaky once the budget has run out.
    with contextlib.suppress(Exception):
        _run_given(seed, count, body, shrink=True)
    return state.best or target


def case_files(
    case_id: str, xml: str, *, description: str
) -> tuple[dict[str, str], dict[str, Any]]:
    """A corpus case's files (name -> text) and its ``index.json`` entry.

    Accepted: ``ID.xml``, ``ID.seed.args`` and ``ID.libvirt.args``; rejected: ``ID.xml``
    and ``ID.err``: the reference's goldens, as ``cases/`` holds them.
    """
    report = validate(xml)
    files = {f"{case_id}.xml": xml if xml.endswith("\n") else xml + "\n"}
    if report.accepted and report.domain is not None:
        for profile in Profile:
            files[f"{case_id}.{profile.value}.args"] = render_args(
                build_argv(report.domain, profile)
            )
    else:
        files[f"{case_id}.err"] = report.text()
    entry = {
        "id": case_id,
        "description": description,
        "dialect": document_dialect(report.domain).value,
        "features": ["generated"],
        "expect": "accept" if report.accepted else "reject",
        "rules": list(dict.fromkeys(v.rule for v in report.violations)),
    }
    return files, entry


def write_case(
    folder: Path,
    case_id: str,
    xml: str,
    *,
    description: str,
) -> list[Path]:
    """Write a ready-to-add corpus case: ``ID.xml`` and the reference's goldens
    (:func:`case_files`). The index entry goes to ``ID.index.json`` (paste it into
    ``cases/index.json``).
    """
    folder.mkdir(parents=True, exist_ok=True)
    files, entry = case_files(case_id, xml, description=description)
    written = []
    for name, text in files.items():
        written.append(folder / name)
        written[-1].write_text(text, encoding="utf-8")
    index = folder / f"{case_id}.index.json"
    index.write_text(json.dumps(entry, indent=2) + "\n", encoding="utf-8")
    written.append(index)
    return written
