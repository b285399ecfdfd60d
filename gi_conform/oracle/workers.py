"""One case through one implementation, or many cases at once (``--jobs``).

Concurrency never changes a report: results come back in case order, whatever order the
workers finish in. Implementations that are processes (``cmd:``, ``jsonl:``, libvirt)
run from threads, each thread with its own instance (its own ``jsonl:`` process, its own
scratch directory); in-process ones (the reference, ``python:``) hold the GIL, so they
run in worker processes, each opening the implementation once.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import queue
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor

from gi_conform.oracle.compare import compare
from gi_conform.oracle.deviations import deviation_reason
from gi_conform.oracle.impls import Implementation, open_implementation, parse_spec
from gi_conform.oracle.model import (
    Answer,
    CaseResult,
    CheckCase,
    CheckOptions,
    Failure,
    ImplInfo,
    Mode,
    Outcome,
    Verdict,
)
from gi_conform.oracle.roundtrip import compare_roundtrip

__all__ = [
    "IN_PROCESS_KINDS",
    "check_case",
    "default_jobs",
    "open_for",
    "run_cases",
    "usable_cores",
]

IN_PROCESS_KINDS = ("reference", "python")
"""Implementations that run inside the harness (and so in worker processes with jobs)."""


def default_jobs(impl: str) -> int:
    """``--jobs`` when not given: the usable cores for an implementation that runs as
    processes; 1 for an in-process one, whose worker processes cost more to start (about
    0.5 s each, measured) than a fast implementation like the reference saves: it checks
    the corpus at about 1,200 cases/s alone and half that with two workers. A slow
    ``python:`` function is worth ``--jobs N``."""
    return 1 if parse_spec(impl).kind in IN_PROCESS_KINDS else usable_cores()


def usable_cores() -> int:
    """The cores this process may run on (its affinity mask, not the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _supported(info: ImplInfo, case: CheckCase) -> bool:
    """Whether the implementation declared the case's dialect (``none`` always runs)."""
    return info.dialects is None or case.dialect == "none" or case.dialect in info.dialects


def _skipped(case: CheckCase, reason: str) -> CaseResult:
    """A case the implementation is not asked at all."""
    return CaseResult(case, Outcome.SKIPPED, Answer(Verdict.SKIPPED, reason=reason), reason=reason)


def check_case(
    implementation: Implementation, case: CheckCase, options: CheckOptions
) -> CaseResult:
    """Run one case and compare; a failure whose every key is a listed known deviation
    becomes a skip."""
    start = time.monotonic()
    if not _supported(implementation.info, case):
        return _skipped(case, f"the implementation does not handle the {case.dialect} dialect")
    modes = implementation.info.modes
    if modes is not None and str(options.mode) not in modes:
        return _skipped(case, f"the implementation does not answer in {options.mode} mode")
    answer = implementation.run(case, options.timeout)
    failures: tuple[Failure, ...] = ()
    diff = ""
    reason = ""
    if answer.verdict is Verdict.SKIPPED:
        outcome, reason = Outcome.SKIPPED, answer.reason or "skipped by the implementation"
    elif answer.verdict is Verdict.ERRORED:
        outcome, reason = Outcome.ERRORED, f"{answer.error_kind}: {answer.context}".strip()
    else:
        if options.mode is Mode.ROUNDTRIP:
            found, diff = compare_roundtrip(case, answer)
        else:
            found, diff = compare(case, answer, strict=options.strict, messages=options.messages)
        failures = tuple(found)
        outcome = Outcome.FAILED if failures else Outcome.PASSED
    known = False
    if options.known_deviations and outcome in (Outcome.FAILED, Outcome.ERRORED):
        keys = [f.key for f in failures] or [str(answer.error_kind or "errored")]
        deviation = deviation_reason(options.known_deviations, case.id, keys)
        if deviation is not None:
            outcome, reason, known = Outcome.SKIPPED, f"known deviation: {deviation}", True
    return CaseResult(
        case,
        outcome,
        answer,
        failures=failures,
        diff=diff,
        reason=reason,
        known_deviation=known,
        duration=time.monotonic() - start,
    )


def open_for(options: CheckOptions) -> contextlib.AbstractContextManager[Implementation]:
    """The implementation ``options`` names, opened as ``check`` opens it."""
    return open_implementation(
        options.impl,
        validate_protocol=options.validate_protocol,
        start_timeout=max(options.timeout, 5.0),
        memory_limit=options.memory_limit,
        mode=options.mode,
        reject_pattern=options.reject_pattern,
    )


def run_cases(
    implementation: Implementation,
    cases: Sequence[CheckCase],
    options: CheckOptions,
    progress: Callable[[CaseResult], None] | None = None,
) -> list[CaseResult]:
    """Every case checked, in case order; ``options.jobs`` at a time.

    ``implementation`` is the caller's open instance: it runs every case when jobs is 1,
    and is one of the thread pool's instances otherwise. ``progress`` is called in case
    order, from the calling thread.
    """
    jobs = max(1, min(options.jobs, len(cases)))
    with contextlib.ExitStack() as stack:
        checked: Iterator[CaseResult]
        if jobs == 1:
            checked = (check_case(implementation, case, options) for case in cases)
        else:
            executor, run = _pool(stack, implementation, options, jobs)
            chunk = max(1, min(16, len(cases) // (jobs * 4))) if run is _check_in_worker else 1
            checked = executor.map(run, cases, chunksize=chunk)
        results: list[CaseResult] = []
        for result in checked:
            results.append(result)
            if progress is not None:
                progress(result)
        return results


def _pool(
    stack: contextlib.ExitStack,
    implementation: Implementation,
    options: CheckOptions,
    jobs: int,
) -> tuple[Executor, Callable[[CheckCase], CaseResult]]:
    if parse_spec(options.impl).kind in IN_PROCESS_KINDS:
        # forkserver: workers start from a clean process, not a fork of one holding
        # threads (a progress bar's, a pytest plugin's) and their locks.
        context = multiprocessing.get_context("forkserver")
        executor: Executor = stack.enter_context(
            ProcessPoolExecutor(
                jobs, mp_context=context, initializer=_start_worker, initargs=(options,)
            )
        )
        return executor, _check_in_worker
    instances: queue.SimpleQueue[Implementation] = queue.SimpleQueue()
    instances.put(implementation)
    for _ in range(jobs - 1):
        instances.put(stack.enter_context(open_for(options)))

    def run(case: CheckCase) -> CaseResult:
        instance = instances.get()
        try:
            return check_case(instance, case, options)
        finally:
            instances.put(instance)

    # Entered last, so it is shut down (every case finished) before the instances close.
    executor = stack.enter_context(ThreadPoolExecutor(jobs, thread_name_prefix="gi-check"))
    return executor, run


_worker: tuple[Implementation, CheckOptions] | None = None
_worker_stack = contextlib.ExitStack()


def _start_worker(options: CheckOptions) -> None:
    """A worker process opens the implementation once, for every case it gets."""
    global _worker  # noqa: PLW0603 (one implementation per worker process)
    _worker = (_worker_stack.enter_context(open_for(options)), options)


def _check_in_worker(case: CheckCase) -> CaseResult:
    assert _worker is not None, "the worker initializer did not run"
    implementation, options = _worker
    return check_case(implementation, case, options)
