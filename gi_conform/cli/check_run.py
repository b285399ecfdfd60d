"""Running ``gi-conform check`` (its options are in :mod:`gi_conform.cli.check`): the
oracle with a progress bar, the summary, the reports."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib.util
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from gi_conform.argv.build import Profile
from gi_conform.cli.common import (
    EXIT_ACCEPTED,
    EXIT_REJECTED,
    UsageError,
)
from gi_conform.oracle.baseline import BaselineError, load_baseline
from gi_conform.oracle.deviations import (
    KnownDeviationsError,
    load_known_deviations,
)
from gi_conform.oracle.frozen import GeneratedSet, GeneratedSetError, read_generated_set
from gi_conform.oracle.impls import SpecError, check_reject_pattern, parse_spec
from gi_conform.oracle.model import CaseResult, CheckCase, Mode, Outcome
from gi_conform.oracle.report import summary, write_report
from gi_conform.oracle.runner import (
    CheckOptions,
    CheckRun,
    run_check,
    select_cases,
)
from gi_conform.oracle.workers import default_jobs

__all__ = ["run"]


@contextlib.contextmanager
def _status(enabled: bool, text: str) -> Iterator[None]:
    if not enabled:
        yield
        return
    with Console(stderr=True).status(text):
        yield


def run(args: argparse.Namespace) -> int:
    """The ``check`` command: parse what the parser could not, run, report."""
    try:
        check_reject_pattern(parse_spec(args.impl), args.reject_pattern)
        known = load_known_deviations(args.known_deviations) if args.known_deviations else {}
        baseline = load_baseline(args.baseline) if args.baseline is not None else None
    except (SpecError, KnownDeviationsError, BaselineError) as error:
        raise UsageError(str(error)) from None
    if baseline is not None and baseline.mode != args.mode:
        raise UsageError(
            f"--baseline {args.baseline} is a {baseline.mode} report; this check is --mode "
            f"{args.mode}"
        )
    for kind, file in args.report:
        if kind not in ("json", "junit"):
            raise UsageError(f"--report {kind}: expected json or junit")
        if not Path(file).resolve().parent.is_dir():
            raise UsageError(f"--report {kind} {file}: no such directory")
    if args.corpus is not None and not (args.corpus / "index.json").is_file():
        raise UsageError(f"--corpus {args.corpus}: no index.json there")
    frozen = _generated_set(args)
    if args.validate_protocol and importlib.util.find_spec("jsonschema") is None:
        raise UsageError(
            "--validate-protocol needs the jsonschema library (pip install jsonschema)"
        )
    if frozen is None and args.generated and importlib.util.find_spec("hypothesis") is None:
        raise UsageError(
            "generated documents need hypothesis (pip install hypothesis), or pass --generated 0"
        )
    options = CheckOptions(
        impl=args.impl,
        label=args.label.strip(),
        mode=Mode(args.mode),
        dialects=tuple(dict.fromkeys(args.dialect)),
        patterns=tuple(args.case),
        profile=None if args.profile == "auto" else Profile(args.profile),
        corpus=args.corpus,
        use_corpus=not args.no_corpus,
        generated=args.generated if frozen is None else frozen.count,
        seed=args.seed if frozen is None else frozen.seed,
        generated_from=args.generated_from,
        strict=args.strict,
        messages=args.messages,
        timeout=args.timeout,
        failures_dir=args.failures_dir,
        max_shrinks=args.max_shrinks,
        known_deviations=known,
        baseline=baseline,
        validate_protocol=args.validate_protocol,
        jobs=args.jobs if args.jobs is not None else default_jobs(args.impl),
        memory_limit=args.memory_limit,
        reject_pattern=args.reject_pattern,
    )
    started = time.monotonic()
    interactive = sys.stderr.isatty() and not args.no_progress
    drawing = frozen is None and args.generated > 0
    with _status(interactive and drawing, f"generating {args.generated} documents"):
        cases = select_cases(options)
    if not cases:
        raise UsageError("no case matches the --dialect / --case selection")
    try:
        run = _with_progress(options, cases, interactive)
    except SpecError as error:
        raise UsageError(str(error)) from None
    run = dataclasses.replace(run, duration=time.monotonic() - started)
    sys.stdout.write(summary(run, details=args.details))
    for kind, file in args.report:
        try:
            write_report(run, kind, Path(file))
        except OSError as error:
            raise UsageError(f"cannot write {file}: {error.strerror or error}") from None
    return EXIT_ACCEPTED if run.ok else EXIT_REJECTED


def _generated_set(args: argparse.Namespace) -> GeneratedSet | None:
    """``--generated-from DIR``, read; it replaces ``--generated`` and ``--seed``."""
    if args.generated_from is None:
        return None
    if args.generated != CheckOptions.generated or args.seed != CheckOptions.seed:
        raise UsageError(
            "--generated-from DIR replaces --generated and --seed: give one or the other"
        )
    try:
        return read_generated_set(args.generated_from)
    except GeneratedSetError as error:
        raise UsageError(f"--generated-from: {error}") from None


def _with_progress(options: CheckOptions, cases: list[CheckCase], interactive: bool) -> CheckRun:
    """Run the check, with a rich progress bar on standard error when it is a terminal."""
    if not interactive:
        return run_check(options, cases=cases)
    columns = (
        TextColumn("[bold]check[/bold] {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[bad]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(options.impl, total=len(cases), bad="")
        failed = 0

        def advance(result: CaseResult) -> None:
            nonlocal failed
            if result.outcome in (Outcome.FAILED, Outcome.ERRORED):
                failed += 1
            bar.update(task, advance=1, bad=f"{failed} failing" if failed else "")

        def status(text: str) -> None:
            bar.update(task, description=text)

        return run_check(options, cases=cases, progress=advance, status=status)
