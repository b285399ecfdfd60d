"""Implementations that misbehave: every case errors cleanly, the run completes within a
bound, and no process is left behind.

The misbehaving programs are ``tests/mutants/jsonl_misbehaving.py`` and
``cmd_misbehaving.py``; each mode is one way a real implementation goes wrong.
"""

from __future__ import annotations

import os
import shlex
import sys
import time
import uuid
from pathlib import Path

import pytest

from gi_conform.oracle.model import ErrorKind, Outcome
from gi_conform.oracle.report import summary
from gi_conform.oracle.runner import CheckOptions, CheckRun, run_check
from tests.helpers import MUTANTS_DIR

PYTHON = shlex.quote(sys.executable)
CASES = ("seed-example", "two-gpus-nodeset", "gi-node-unknown", "disjoint-cpus")
FEW = ("seed-example", "gi-node-unknown")
"""For implementations that hang: each case costs the whole timeout."""
TIMEOUT = 1.0
SLACK = 10.0
"""Process start-up on a loaded 2-core machine, on top of the per-case timeouts."""


def _processes_with(marker: str) -> list[int]:
    """Pids whose command line mentions ``marker`` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if marker.encode() in cmdline:
            found.append(int(entry.name))
    return found


def _run(impl: str, **extra: object) -> tuple[CheckRun, float]:
    fields: dict[str, object] = {"generated": 0, "patterns": CASES, "timeout": TIMEOUT}
    options = CheckOptions(impl=impl, **(fields | extra))  # type: ignore[arg-type]
    start = time.monotonic()
    run = run_check(options)
    return run, time.monotonic() - start


def _errored(run: CheckRun) -> dict[str, ErrorKind | None]:
    return {r.case.id: r.answer.error_kind for r in run.results if r.outcome is Outcome.ERRORED}


@pytest.mark.parametrize(
    ("mode", "kind", "every_case", "says"),
    [
        ("dies", ErrorKind.CRASH, False, "died mid-protocol"),
        ("garbage", ErrorKind.PROTOCOL, True, "not JSON"),
        ("silent", ErrorKind.TIMEOUT, True, "no answer"),
        ("flood", ErrorKind.OUTPUT_LIMIT, False, ""),
        ("wrong-seq", ErrorKind.PROTOCOL, True, "seq"),
        ("bad-reply", ErrorKind.PROTOCOL, True, "schema"),
        ("bad-version", ErrorKind.START, True, "version"),
        ("no-start", ErrorKind.START, True, "start failed"),
        ("raises", ErrorKind.CRASH, False, "RuntimeError: cannot convert"),
        ("stack-reply", ErrorKind.CRASH, True, "Python traceback in a rejected reply"),
        ("hello-argv", ErrorKind.PROTOCOL, True, "no QEMU option"),
    ],
)
def test_misbehaving_jsonl_cases_error_and_the_run_completes(
    mode: str, kind: ErrorKind, every_case: bool, says: str
) -> None:
    marker = f"gi-conform-test-{uuid.uuid4().hex}"
    script = shlex.quote(str(MUTANTS_DIR / "jsonl_misbehaving.py"))
    cases = FEW if kind is ErrorKind.TIMEOUT else CASES
    impl = f"jsonl:{PYTHON} {script} {mode} {marker}"
    run, elapsed = _run(impl, validate_protocol=True, patterns=cases)
    assert len(run.results) == len(cases)
    errored = _errored(run)
    assert errored, summary(run)
    assert set(errored.values()) == {kind}, summary(run)
    reasons = [r.reason for r in run.results if r.case.id in errored]
    assert all(says in reason for reason in reasons), summary(run)
    if every_case:
        assert len(errored) == len(cases)
    else:
        assert run.count(Outcome.PASSED) > 0, "the run goes on after the bad case"
    assert elapsed < len(CASES) * TIMEOUT + SLACK
    assert _processes_with(marker) == []


@pytest.mark.parametrize(
    ("mode", "kind", "says"),
    [
        ("flood", ErrorKind.OUTPUT_LIMIT, "stdout went past its limit"),
        ("segv", ErrorKind.CRASH, "SIGSEGV"),
        ("silent", ErrorKind.CRASH, "exit status 1 with nothing on stderr"),
        ("garbage", ErrorKind.PROTOCOL, "not UTF-8"),
        ("hello", ErrorKind.PROTOCOL, "no QEMU option in the output: 'hello world'"),
        ("wordy", ErrorKind.CRASH, "no rejection line on stderr"),
        ("exit2", ErrorKind.CRASH, "exit status 2: a rejection exits 1"),
        ("raises", ErrorKind.CRASH, "Python traceback (exit 1), not a rejection: KeyError"),
        ("hidden", ErrorKind.CRASH, "Python traceback on stderr (exit 0, nothing on stdout)"),
    ],
)
def test_misbehaving_commands_error(mode: str, kind: ErrorKind, says: str) -> None:
    """Each errors on every case, the valid and the invalid ones: none reads as a
    rejection (``raises`` and ``exit2`` print an ``error:`` line first)."""
    script = shlex.quote(str(MUTANTS_DIR / "cmd_misbehaving.py"))
    run, elapsed = _run(f"cmd:{PYTHON} {script} {mode} {{}}")
    assert set(_errored(run).values()) == {kind}, summary(run)
    assert len(_errored(run)) == len(CASES)
    assert all(says in result.reason for result in run.results), summary(run)
    assert elapsed < len(CASES) * TIMEOUT + SLACK


def test_a_missing_command_errors_every_case() -> None:
    run, _ = _run("cmd:/nonexistent/gi-conform-impl {}")
    assert set(_errored(run).values()) == {ErrorKind.START}
    run, _ = _run("jsonl:/nonexistent/gi-conform-impl")
    assert set(_errored(run).values()) == {ErrorKind.START}


@pytest.mark.parametrize("adapter", ["cmd", "jsonl"])
def test_hangs_with_children_leave_no_process_behind(adapter: str) -> None:
    """A hung implementation that started helpers: the whole process group goes."""
    marker = f"gi-conform-test-{uuid.uuid4().hex}"
    if adapter == "cmd":
        script = shlex.quote(str(MUTANTS_DIR / "cmd_misbehaving.py"))
        impl = f"cmd:{PYTHON} {script} orphan {{}} {marker}"
    else:
        script = shlex.quote(str(MUTANTS_DIR / "jsonl_misbehaving.py"))
        impl = f"jsonl:{PYTHON} {script} orphan {marker}"
    run, elapsed = _run(impl, patterns=FEW)
    assert set(_errored(run).values()) == {ErrorKind.TIMEOUT}
    assert elapsed < len(FEW) * TIMEOUT + SLACK
    assert _processes_with(marker) == []


def test_a_hanging_python_function_is_interrupted() -> None:
    run, elapsed = _run("python:tests.mutants.mutants:hangs", patterns=("cells-128",))
    assert _errored(run) == {"cells-128": ErrorKind.TIMEOUT}
    assert elapsed < TIMEOUT + SLACK
