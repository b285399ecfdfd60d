"""``gi-conform argv``, ``validate`` and ``fmt``: the reference on one domain document.

Exit status: 0 accepted, 1 rejected (an error-severity rule, malformed XML included),
2 usage error or unreadable input.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, TextIO

from gi_conform.argv.build import Profile, build_argv, flatten, render_args
from gi_conform.cli.common import EXIT_ACCEPTED, EXIT_REJECTED, read_input
from gi_conform.document.format import format_xml
from gi_conform.document.validate import Report, validate

__all__ = ["add_parsers"]


def _print_violations(report: Report, stream: TextIO) -> None:
    stream.write(report.text())


def _validate(args: argparse.Namespace) -> int:
    report = validate(read_input(args.file))
    if args.format == "json":
        payload = {
            "file": args.file,
            "accepted": report.accepted,
            "violations": [v.as_json() for v in report.violations],
        }
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
    else:
        _print_violations(report, sys.stdout)
    return EXIT_ACCEPTED if report.accepted else EXIT_REJECTED


def _argv(args: argparse.Namespace) -> int:
    report = validate(read_input(args.file))
    if not report.accepted or report.domain is None:
        _print_violations(report, sys.stderr)
        return EXIT_REJECTED
    _print_violations(report, sys.stderr)
    options = build_argv(report.domain, Profile(args.profile) if args.profile else None)
    if args.format == "json":
        sys.stdout.write(json.dumps(flatten(options), indent=1) + "\n")
    else:
        sys.stdout.write(render_args(options))
    return EXIT_ACCEPTED


def _fmt(args: argparse.Namespace) -> int:
    report = validate(read_input(args.file))
    syntax_rules = {v.rule for v in report.errors if v.rule.startswith("XML-")}
    if report.domain is None or syntax_rules:
        _print_violations(report, sys.stderr)
        return EXIT_REJECTED
    sys.stdout.write(format_xml(report.domain))
    return EXIT_ACCEPTED if report.accepted else EXIT_REJECTED


def add_parsers(commands: argparse._SubParsersAction[Any]) -> None:
    """Register ``argv``, ``validate`` and ``fmt`` on the main parser's subcommands."""
    argv = commands.add_parser("argv", help="print the QEMU argv of a domain document")
    argv.add_argument("file", metavar="FILE", help="domain XML, or - for stdin")
    argv.add_argument(
        "--profile",
        choices=[p.value for p in Profile],
        help="argv profile (default: the dialect of the input, seed if it has seed elements)",
    )
    argv.add_argument("--format", choices=["args", "json"], default="args")
    argv.set_defaults(handler=_argv)

    validating = commands.add_parser("validate", help="report every rule a document breaks")
    validating.add_argument("file", metavar="FILE", help="domain XML, or - for stdin")
    validating.add_argument("--format", choices=["text", "json"], default="text")
    validating.set_defaults(handler=_validate)

    fmt = commands.add_parser("fmt", help="print the canonical XML of a domain document")
    fmt.add_argument("file", metavar="FILE", help="domain XML, or - for stdin")
    fmt.set_defaults(handler=_fmt)
