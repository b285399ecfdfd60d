"""Proving the oracle: every deliberately wrong implementation is flagged, the right way.

Each mutant of ``tests/mutants/mutants.py`` runs as ``python:`` over the corpus and
generated documents, and as ``cmd:`` and ``jsonl:`` on the corpus case that shows its
bug (a process per case is slow; the in-process run covers everything). The tests assert
the specific failure kind, not just a non-zero exit: a mutant flagged for the wrong
reason would hide a blind spot.
"""

from __future__ import annotations

import shlex
import sys

import pytest

from gi_conform.oracle.model import CaseResult, Outcome
from gi_conform.oracle.report import summary
from gi_conform.oracle.runner import CheckOptions, CheckRun, run_check
from tests.helpers import MUTANTS_DIR
from tests.mutants.mutants import EXPECTED, MUTANTS

PYTHON = shlex.quote(sys.executable)
GENERATED = 20
TIMEOUT = 1.0


def _flagged(run: CheckRun, case_id: str, outcome: str, keys: tuple[str, ...]) -> CaseResult:
    """The case's result, after asserting it shows the expected outcome and keys."""
    result = next(r for r in run.results if r.case.id == case_id)
    assert str(result.outcome) == outcome, summary(run)
    if result.outcome is Outcome.ERRORED:
        assert str(result.answer.error_kind) in keys, result.reason
    else:
        assert set(keys) <= set(result.keys), result.failures
    return result


def test_there_are_at_least_eight_mutants() -> None:
    assert len(MUTANTS) >= 8
    assert set(MUTANTS) == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_every_mutant_is_flagged_in_process(name: str) -> None:
    function = name.replace("-", "_")
    options = CheckOptions(
        impl=f"python:tests.mutants.mutants:{function}", generated=GENERATED, timeout=TIMEOUT
    )
    run = run_check(options)
    assert not run.ok
    outcome, case_id, keys = EXPECTED[name]
    _flagged(run, case_id, outcome, keys)
    # The bug, not noise: cases the mutant does not touch still pass.
    assert run.count(Outcome.PASSED) > 0


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_every_mutant_is_flagged_as_a_command(name: str) -> None:
    outcome, case_id, keys = EXPECTED[name]
    command = f"{PYTHON} {shlex.quote(str(MUTANTS_DIR / 'as_command.py'))} {name} {{}}"
    options = CheckOptions(
        impl=f"cmd:{command}", generated=0, patterns=(case_id,), timeout=TIMEOUT + 1
    )
    run = run_check(options)
    assert not run.ok
    _flagged(run, case_id, outcome, keys)


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_every_mutant_is_flagged_over_jsonl(name: str) -> None:
    outcome, case_id, keys = EXPECTED[name]
    target = f"tests.mutants.mutants:{name.replace('-', '_')}"
    command = f"{PYTHON} -m gi_conform.oracle.serve {target}"
    options = CheckOptions(
        impl=f"jsonl:{command}",
        generated=0,
        patterns=(case_id, "seed-example"),
        timeout=TIMEOUT + 1,
        validate_protocol=True,
    )
    run = run_check(options)
    assert not run.ok
    assert run.info.name == target
    if outcome == "errored" and "crash" in keys:
        # In-process behind the server, a crash is the implementation's own errored reply.
        keys = ("reported",)
    _flagged(run, case_id, outcome, keys)


def test_the_reference_passes_through_every_adapter() -> None:
    cmd = f"{PYTHON} {shlex.quote(str(MUTANTS_DIR / 'as_command.py'))} reference {{}}"
    jsonl = f"{PYTHON} {shlex.quote(str(MUTANTS_DIR / 'jsonl_reference.py'))}"
    for impl, generated in (
        ("reference", GENERATED),
        ("python:tests.mutants.mutants:reference", GENERATED),
        (f"jsonl:{jsonl}", GENERATED),
        (f"cmd:{cmd}", 0),
    ):
        patterns = ("seed-*", "libvirt-*", "gi-node-*", "gen-*") if impl.startswith("cmd") else ()
        options = CheckOptions(
            impl=impl,
            generated=generated,
            patterns=patterns,
            strict=True,
            messages=True,
            validate_protocol=True,
        )
        run = run_check(options)
        assert run.ok, summary(run)
        # Only the deliberately non-UTF-8 case may be skipped (text protocols).
        skipped = {r.case.id for r in run.results if r.outcome is Outcome.SKIPPED}
        assert skipped <= {"xml-malformed-latin1"}, impl
