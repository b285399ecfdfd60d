"""``check --jobs N``: cases run concurrently, the report stays what a sequential run
writes (durations and timestamps aside), for every kind of implementation."""

from __future__ import annotations

import dataclasses
import os
import shlex
import subprocess
import sys
from typing import Any

import pytest

from gi_conform.oracle.model import CaseResult, CheckOptions, ErrorKind, Outcome
from gi_conform.oracle.report import json_report, junit_xml
from gi_conform.oracle.runner import CheckRun, run_check
from gi_conform.oracle.workers import default_jobs, usable_cores
from tests.helpers import MUTANTS_DIR, ROOT, run_cli

PYTHON = shlex.quote(sys.executable)
_TIMING = {"duration_s", "started", "time", "timestamp"}


def _timeless(value: Any) -> Any:
    """A report without what differs between any two runs: durations, start times."""
    if isinstance(value, dict):
        return {k: _timeless(v) for k, v in value.items() if k not in _TIMING}
    if isinstance(value, list):
        return [_timeless(v) for v in value]
    return value


def _runs(options: CheckOptions, jobs: int = 2) -> tuple[CheckRun, CheckRun]:
    alone = run_check(dataclasses.replace(options, jobs=1))
    seen: list[str] = []
    spread = run_check(
        dataclasses.replace(options, jobs=jobs), progress=lambda r: seen.append(r.case.id)
    )
    assert seen == [result.case.id for result in alone.results], "progress in case order"
    return alone, spread


def _assert_same_report(alone: CheckRun, spread: CheckRun) -> None:
    assert _timeless(json_report(spread)) == _timeless(json_report(alone))
    junit = [line for line in junit_xml(alone).decode().splitlines() if "time=" not in line]
    other = [line for line in junit_xml(spread).decode().splitlines() if "time=" not in line]
    assert other == junit


def test_reference_in_worker_processes_writes_the_same_report() -> None:
    alone, spread = _runs(CheckOptions(generated=30, seed=3))
    assert len(alone.results) > 100
    _assert_same_report(alone, spread)


def test_a_failing_python_implementation_keeps_its_failures_in_order() -> None:
    options = CheckOptions(impl="python:tests.mutants.mutants:reorders", generated=20, seed=1)
    alone, spread = _runs(options)
    assert alone.count(Outcome.FAILED) > 0
    _assert_same_report(alone, spread)


def test_commands_run_concurrently_with_the_same_report() -> None:
    command = f"{PYTHON} {shlex.quote(str(MUTANTS_DIR / 'as_command.py'))} reorders {{}}"
    options = CheckOptions(
        impl=f"cmd:{command}", generated=4, patterns=("seed-example", "two-gpus*", "gen-*")
    )
    alone, spread = _runs(options)
    assert alone.count(Outcome.FAILED) > 0
    assert alone.count(Outcome.PASSED) > 0
    _assert_same_report(alone, spread)


def test_jsonl_processes_one_per_worker_with_the_same_report() -> None:
    command = f"{PYTHON} -m gi_conform.oracle.serve tests.mutants.mutants:crashes"
    options = CheckOptions(impl=f"jsonl:{command}", generated=4, timeout=5.0)
    alone, spread = _runs(options)
    assert alone.count(Outcome.ERRORED) > 0
    _assert_same_report(alone, spread)


def test_failures_still_shrink_with_jobs(tmp_path: Any) -> None:
    options = CheckOptions(
        impl="python:tests.mutants.mutants:reorders",
        generated=10,
        use_corpus=False,
        failures_dir=tmp_path,
        max_shrinks=1,
        jobs=2,
    )
    run = run_check(options)
    assert len(run.shrunk) == 1
    assert (tmp_path / f"{run.shrunk[0].case_id}.xml").is_file()


def test_memory_limit_fails_a_greedy_command_not_the_machine() -> None:
    greedy = f"{PYTHON} -c 'bytearray(1 << 30)'"
    options = CheckOptions(
        impl=f"cmd:{greedy}", generated=0, patterns=("seed-example",), memory_limit=256 << 20
    )
    result: CaseResult = run_check(options).results[0]
    assert result.outcome is Outcome.ERRORED
    assert result.answer.error_kind is ErrorKind.CRASH
    assert "MemoryError" in result.reason


def test_usable_cores_is_the_affinity_mask() -> None:
    assert usable_cores() == len(os.sched_getaffinity(0))


@pytest.mark.parametrize(
    ("option", "value"),
    [("--jobs", "0"), ("--jobs", "two"), ("--memory-limit", "1M"), ("--memory-limit", "lots")],
)
def test_bad_jobs_or_memory_limit_is_a_usage_error(
    option: str, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli("check", option, value, "--generated", "0") == 2
    assert option in capsys.readouterr().err


def test_default_jobs_spread_only_process_implementations() -> None:
    assert default_jobs("reference") == 1
    assert default_jobs("python:tests.mutants.mutants:reorders") == 1
    assert default_jobs("cmd:true") == usable_cores()
    assert default_jobs("jsonl:true") == usable_cores()


_DRAW = (
    "import hashlib\n"
    "from gi_conform.oracle.runner import generated_cases\n"
    "cases = generated_cases(40, 3)\n"
    "print(hashlib.sha256(b''.join(c.data for c in cases)).hexdigest())\n"
)


def test_generated_documents_depend_on_the_seed_not_on_loaded_modules() -> None:
    """Hypothesis draws constants from the project's loaded modules; the harness turns
    that off, so ``check`` and ``libvirt prove`` draw the same documents."""
    more = "import gi_conform.cli.libvirt_prove, gi_conform.groundtruth.guest, gi_conform.fuzz\n"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    draws = [
        subprocess.run(
            [sys.executable, "-c", prefix + _DRAW],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
            env=env,
        ).stdout
        for prefix in ("", more)
    ]
    assert draws[0] == draws[1]
    assert len(draws[0].strip()) == 64
