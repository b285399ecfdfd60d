"""Real runtimes that crash on every document, run as ``cmd:`` implementations: each
must come out errored (crash) on every case, with its stack in the report, and pass no
invalid case. Not mocks: the programs in ``tests/mutants/crashers/`` are built once per
session with the toolchain on PATH (``.ci/setup`` installs Go and Rust from Debian);
a runtime whose toolchain is absent is skipped, saying which.

The ``error:`` variants print a rejection-looking line first (``CRASH_SAYS_ERROR=1``),
as a logger would before the exception escapes: Node, Java and the sanitizer also exit
1, so only the crash signature tells those crashes from a rejection.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from gi_conform.libvirt.install import LibvirtUnavailable, locate
from gi_conform.oracle.model import ErrorKind, Outcome, Verdict
from gi_conform.oracle.report import json_report, summary
from gi_conform.oracle.runner import CheckOptions, CheckRun, run_check
from tests.helpers import MUTANTS_DIR

CRASHERS = MUTANTS_DIR / "crashers"
FEW = ("seed-example", "gi-node-unknown", "gi-node-syntax-nodeset", "xml-malformed")
"""A valid document and three invalid ones (for the slow-starting JVM and the variants)."""
BUILD_TIMEOUT = 600


@dataclass(frozen=True)
class Crasher:
    """A built crashing implementation: its ``cmd:`` command and the runtime it is."""

    language: str
    command: str
    runtime: str
    """The runtime name the harness must report (``gi_conform.oracle.contract``)."""
    exit_status: int
    stack: str
    """A piece of the runtime's own crash output that the report must keep."""


def _build(command: list[str], folder: Path, **env: str) -> None:
    """Run a compiler; a failure is a test error showing its output, not a skip."""
    done = subprocess.run(
        command,
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
        env=os.environ | env,
        check=False,
    )
    assert done.returncode == 0, f"{shlex.join(command)}:\n{done.stdout}{done.stderr}"


def _tool(name: str, package: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"no {name} on PATH (Debian package {package}; .ci/setup installs it)")
    return found


@pytest.fixture(scope="session", params=["node", "go", "rust", "java", "c-asan"])
def crasher(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Crasher:
    language = str(request.param)
    folder = tmp_path_factory.mktemp(f"crasher-{language}")
    if language == "node":
        node = _tool("node", "nodejs")
        command = f"{node} {shlex.quote(str(CRASHERS / 'crash.js'))}"
        return Crasher(language, command, "Node.js uncaught exception", 1, "    at convert (")
    if language == "go":
        go = _tool("go", "golang-go")
        cache = folder / "cache"
        _build(
            [go, "build", "-o", "crash", str(CRASHERS / "crash.go")],
            folder,
            GOCACHE=str(cache),
            GOPATH=str(folder / "gopath"),
            GO111MODULE="off",
        )
        return Crasher(language, str(folder / "crash"), "Go panic", 2, "goroutine 1 [running]:")
    if language == "rust":
        rustc = _tool("rustc", "rustc")
        _build([rustc, "-o", "crash", str(CRASHERS / "crash.rs")], folder)
        return Crasher(language, str(folder / "crash"), "Rust panic", 101, "panicked at")
    if language == "java":
        javac = _tool("javac", "default-jdk-headless")
        java = _tool("java", "default-jre-headless")
        _build([javac, "-d", str(folder), str(CRASHERS / "Crash.java")], folder)
        command = f"{java} -cp {shlex.quote(str(folder))} Crash"
        return Crasher(language, command, "Java uncaught exception", 1, "\tat Crash.convert(")
    gcc = _tool("gcc", "gcc")
    try:
        _build([gcc, "-fsanitize=address", "-g", "-o", "crash", str(CRASHERS / "crash.c")], folder)
    except AssertionError as error:
        pytest.skip(f"gcc cannot build with AddressSanitizer here: {error}")
    command = f"env ASAN_OPTIONS=symbolize=0 {folder / 'crash'}"
    return Crasher(language, command, "sanitizer report", 1, "AddressSanitizer")


def _check(crasher: Crasher, patterns: tuple[str, ...], **env: str) -> CheckRun:
    prefix = " ".join(f"{name}={shlex.quote(value)}" for name, value in env.items())
    options = CheckOptions(
        impl=f"cmd:env {prefix} {crasher.command}",
        generated=0,
        patterns=patterns,
        timeout=60.0,
        jobs=2,
        memory_limit=None,  # AddressSanitizer reserves terabytes of address space
    )
    return run_check(options)


def _assert_every_case_crashed(run: CheckRun, crasher: Crasher) -> None:
    assert run.results
    outcomes = {r.case.id: (r.outcome, r.answer.error_kind) for r in run.results}
    assert set(outcomes.values()) == {(Outcome.ERRORED, ErrorKind.CRASH)}, summary(run)
    invalid = [r for r in run.results if not r.case.expectation.accepted]
    assert invalid
    assert not [r.case.id for r in invalid if r.outcome is Outcome.PASSED]
    assert all(r.answer.verdict is not Verdict.REJECTED for r in run.results)
    for result in run.results:
        assert f"{crasher.runtime} (exit {crasher.exit_status})" in result.reason
        assert crasher.stack in result.reason, result.reason
    # The stack is kept in the machine-readable report too.
    cases = json_report(run)["cases"]
    assert all(crasher.stack in case["reason"] for case in cases)


def test_a_crashing_runtime_errors_on_every_case(crasher: Crasher) -> None:
    """The whole corpus, the crash preceded by an ``error:`` line: no case passes."""
    patterns = FEW if crasher.language == "java" else ()
    env = {"CRASH_SAYS_ERROR": "1", "RUST_BACKTRACE": "0"}
    run = _check(crasher, patterns, **env)
    if not patterns:
        assert len(run.results) > 100
    _assert_every_case_crashed(run, crasher)


def test_a_plain_crash_errors_too(crasher: Crasher) -> None:
    """No ``error:`` line, and the runtime's most verbose stack (Rust's backtrace)."""
    run = _check(crasher, FEW, CRASH_SAYS_ERROR="0", RUST_BACKTRACE="1")
    _assert_every_case_crashed(run, crasher)


def test_real_virsh_through_cmd_gets_libvirts_own_verdicts() -> None:
    """``gi-conform libvirt argv`` prints virsh's ``error: ...`` and exits 1: as a
    ``cmd:`` implementation its rejections are rejections, the same verdicts as
    ``--impl libvirt`` reads from virsh directly."""
    try:
        locate()
    except LibvirtUnavailable as error:
        pytest.skip(f"no real libvirt: {error}")
    cases = (
        "libvirt-11.8-example",
        "two-gpus-nodeset",
        "xml-malformed",
        "numa-cpus-overlap",
        "numa-cell-id-noncontiguous",
        "gi-node-syntax-nodeset",
    )
    command = f"{shlex.quote(sys.executable)} -m gi_conform.cli libvirt argv {{}}"
    common = {"generated": 0, "patterns": cases, "timeout": 60.0, "jobs": 2}
    through_cmd = run_check(CheckOptions(impl=f"cmd:{command}", **common))  # type: ignore[arg-type]
    direct = run_check(CheckOptions(impl="libvirt", **common))  # type: ignore[arg-type]
    verdicts = {r.case.id: r.answer.verdict for r in through_cmd.results}
    assert verdicts == {r.case.id: r.answer.verdict for r in direct.results}, summary(through_cmd)
    assert Verdict.REJECTED in verdicts.values()
    assert Verdict.ACCEPTED in verdicts.values()
    rejected = next(r for r in through_cmd.results if r.case.id == "gi-node-syntax-nodeset")
    assert "error: invalid argument: Failed to parse bitmap 'abc'" in rejected.answer.message
