"""``gi-conform check``: check an implementation against the reference.

Exit status: 0 every case passed (skips allowed), 1 a case failed or errored, 2 usage
error (bad option, unknown ``--impl``, unreadable known-deviations file, report not
writable). The summary goes to standard output, the progress bar to standard error
(on a terminal only).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib.util
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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
    add_document_sources,
    count,
    seconds,
)
from gi_conform.model import DocumentDialect
from gi_conform.oracle.impls import SpecError, parse_spec
from gi_conform.oracle.model import CaseResult, CheckCase, Outcome
from gi_conform.oracle.report import summary, write_report
from gi_conform.oracle.runner import (
    CheckOptions,
    CheckRun,
    KnownDeviationsError,
    load_known_deviations,
    run_check,
    select_cases,
)

__all__ = ["add_parser"]

_EPILOG = """\
SPEC is one of:
  reference               the built-in reference (the default)
  python:MODULE:FUNCTION  in-process; FUNCTION(case) returns a protocol run reply
  cmd:COMMAND             one process per case; {} is the XML path (appended if absent),
                          {profile} the profile; exit 0 + argv on stdout = accepted
  jsonl:COMMAND           one process speaking the line-delimited JSON protocol
exit status: 0 all passed, 1 a case failed or errored, 2 usage error
"""


def add_parser(commands: Any) -> None:
    """Register ``check`` on the main parser's subcommands."""
    check = commands.add_parser(
        "check",
        help="check an implementation against the reference (corpus + generated documents)",
        description="Run the golden corpus and generated documents through an implementation "
        "and compare every answer with the reference.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    check.add_argument("--impl", default="reference", metavar="SPEC", help="what to check")
    check.add_argument(
        "--dialect",
        action="append",
        default=[],
        choices=[dialect.value for dialect in DocumentDialect],
        help="only documents of this dialect (repeatable)",
    )
    check.add_argument(
        "--case", action="append", default=[], metavar="GLOB", help="only case ids matching"
    )
    check.add_argument(
        "--profile",
        choices=["auto", "seed", "libvirt"],
        default="auto",
        help="argv profile asked for (default: each document's own)",
    )
    add_document_sources(check)
    check.add_argument("--strict", action="store_true", help="also compare the exact argv")
    check.add_argument(
        "--messages", action="store_true", help="also compare the rule ids of rejections"
    )
    check.add_argument(
        "--timeout", type=seconds, default=10.0, metavar="S", help="per case, seconds (10)"
    )
    check.add_argument(
        "--failures-dir",
        type=Path,
        metavar="DIR",
        help="shrink generated failures and write them here as corpus cases",
    )
    check.add_argument(
        "--max-shrinks", type=count, default=5, metavar="N", help="shrink at most N (5)"
    )
    check.add_argument(
        "--report",
        nargs=2,
        action="append",
        default=[],
        metavar=("KIND", "FILE"),
        help="write a report: KIND json or junit (repeatable)",
    )
    check.add_argument(
        "--known-deviations", type=Path, metavar="FILE", help="case id -> reason: expected skips"
    )
    check.add_argument(
        "--validate-protocol",
        action="store_true",
        help="check every reply against reference/protocol/*.json",
    )
    check.add_argument(
        "--details",
        type=count,
        default=3,
        metavar="N",
        help="failing cases shown in full (3)",
    )
    check.add_argument("--no-progress", action="store_true", help="no progress bar")
    check.set_defaults(handler=_run)


@contextlib.contextmanager
def _status(enabled: bool, text: str) -> Iterator[None]:
    if not enabled:
        yield
        return
    with Console(stderr=True).status(text):
        yield


def _run(args: argparse.Namespace) -> int:
    try:
        parse_spec(args.impl)
        known = load_known_deviations(args.known_deviations) if args.known_deviations else {}
    except (SpecError, KnownDeviationsError) as error:
        raise UsageError(str(error)) from None
    for kind, file in args.report:
        if kind not in ("json", "junit"):
            raise UsageError(f"--report {kind}: expected json or junit")
        if not Path(file).resolve().parent.is_dir():
            raise UsageError(f"--report {kind} {file}: no such directory")
    if args.corpus is not None and not (args.corpus / "index.json").is_file():
        raise UsageError(f"--corpus {args.corpus}: no index.json there")
    if args.validate_protocol and importlib.util.find_spec("jsonschema") is None:
        raise UsageError(
            "--validate-protocol needs the jsonschema library (pip install jsonschema)"
        )
    if args.generated and importlib.util.find_spec("hypothesis") is None:
        raise UsageError(
            "generated documents need hypothesis (pip install hypothesis), or pass --generated 0"
        )
    options = CheckOptions(
        impl=args.impl,
        dialects=tuple(dict.fromkeys(args.dialect)),
        patterns=tuple(args.case),
        profile=None if args.profile == "auto" else Profile(args.profile),
        corpus=args.corpus,
        use_corpus=not args.no_corpus,
        generated=args.generated,
        seed=args.seed,
        strict=args.strict,
        messages=args.messages,
        timeout=args.timeout,
        failures_dir=args.failures_dir,
        max_shrinks=args.max_shrinks,
        known_deviations=known,
        validate_protocol=args.validate_protocol,
    )
    started = time.monotonic()
    interactive = sys.stderr.isatty() and not args.no_progress
    with _status(interactive and args.generated > 0, f"generating {args.generated} documents"):
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
