"""``gi-conform check``: check an implementation against the reference.

Exit status: 0 every case passed (skips allowed; with ``--baseline``: no failure the
baseline does not have), 1 a case failed or errored (with ``--baseline``: a new one) or
every case was skipped, 2 usage error (bad option, unknown ``--impl``, unreadable
known-deviations file or baseline, report not writable). The summary goes to standard
output, the progress bar to standard error (on a terminal only).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from gi_conform.cli.common import add_document_sources, count, jobs, memory_limit, seconds
from gi_conform.model import DocumentDialect
from gi_conform.process import DEFAULT_MEMORY_LIMIT

__all__ = ["add_parser"]

_EPILOG = """\
SPEC is one of:
  reference               the built-in reference (the default)
  python:MODULE:FUNCTION  in-process; FUNCTION(case) returns a protocol run reply
  cmd:COMMAND             one process per case; {} is the XML path (appended if absent),
                          {profile} the profile; exit 0 + argv on stdout = accepted,
                          exit 1 + a stderr line matching --reject-pattern = rejected,
                          anything else (a stack, another exit) = errored
  jsonl:COMMAND           one process speaking the line-delimited JSON protocol
  libvirt[:DIR]           real libvirt's virsh domxml-to-native (--mode argv)
  libvirt-xml[:DIR]       libvirt's parse + format: virsh define + dumpxml (--mode roundtrip)
  libvirt-schema[:DIR]    libvirt's RelaxNG schema, a verdict only (--mode roundtrip)
  virtinst[:DIR]          virt-install's library: Guest(parsexml).get_xml() (--mode roundtrip)
In --mode roundtrip a cmd: prints the document written back (nothing: a verdict only).
exit status: 0 all passed, 1 a case failed or errored (with --baseline: one the
baseline does not have), 2 usage error
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
        "--label",
        default="",
        metavar="NAME",
        help="the implementation's name in the summary and reports (default: its own)",
    )
    check.add_argument(
        "--mode",
        choices=["argv", "roundtrip"],
        default="argv",
        help="argv: compare the argv of every document (default); roundtrip: compare the "
        "document the implementation writes back",
    )
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
    check.add_argument(
        "--generated-from",
        type=Path,
        metavar="DIR",
        help="generated documents from a frozen set (gi-conform generate) instead of drawing "
        "--generated N --seed S",
    )
    check.add_argument("--strict", action="store_true", help="also compare the exact argv")
    check.add_argument(
        "--messages", action="store_true", help="also compare the rule ids of rejections"
    )
    check.add_argument(
        "--timeout", type=seconds, default=10.0, metavar="S", help="per case, seconds (10)"
    )
    check.add_argument(
        "--jobs",
        "-j",
        type=jobs,
        default=None,
        metavar="N",
        help="cases at once (default: the usable cores; 1 for reference and python:); "
        "the report is the same for any N",
    )
    check.add_argument(
        "--memory-limit",
        type=memory_limit,
        default=DEFAULT_MEMORY_LIMIT,
        metavar="SIZE",
        help="address space per implementation process, e.g. 4G, or none "
        f"(default {DEFAULT_MEMORY_LIMIT >> 30}G)",
    )
    check.add_argument(
        "--reject-pattern",
        metavar="REGEX",
        help="cmd: a rejection exits 1 with a stderr line matching REGEX "
        "(default '^error[: ]'); any other failure is a crash",
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
        "--known-deviations",
        type=Path,
        metavar="FILE",
        help="'CASE-ID KEY: reason' lines: failures reported as expected skips",
    )
    check.add_argument(
        "--baseline",
        type=Path,
        metavar="REPORT.json",
        help="a previous --report json: fail only on (case, failure key) pairs it did not have",
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


def _run(args: argparse.Namespace) -> int:
    # The oracle and rich load only when ``check`` runs: every other command starts
    # about 0.1 s faster without them.
    from gi_conform.cli import check_run  # noqa: PLC0415 (start-up time of the other commands)

    return check_run.run(args)
