"""The ``gi-conform`` command line.

Exit status is an interface other tools rely on:
0 accepted / success, 1 rejected (an error-severity rule, malformed XML included),
2 usage error or unreadable input, 70 internal error (a bug: please report it).
No Python traceback ever reaches the user.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn, TextIO

from gi_conform.argv.build import Profile, build_argv, flatten, render_args
from gi_conform.cli import check as oracle_cli
from gi_conform.cli import libvirt as libvirt_cli
from gi_conform.cli import qemu as qemu_cli
from gi_conform.document.format import format_xml
from gi_conform.document.parse import MAX_DOCUMENT_BYTES
from gi_conform.document.validate import Report, validate

__all__ = ["EXIT_ACCEPTED", "EXIT_INTERNAL", "EXIT_REJECTED", "EXIT_USAGE", "main"]

EXIT_ACCEPTED = 0
EXIT_REJECTED = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 70


class UsageError(Exception):
    """Bad invocation or unreadable input: exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        raise UsageError(message)


def read_input(name: str) -> bytes:
    """The bytes of FILE or of stdin for ``-``, at most one byte past the size limit."""
    try:
        if name == "-":
            return sys.stdin.buffer.read(MAX_DOCUMENT_BYTES + 1)
        with Path(name).open("rb") as handle:
            return handle.read(MAX_DOCUMENT_BYTES + 1)
    except OSError as error:
        raise UsageError(f"cannot read {name}: {error.strerror or error}") from None


def _print_violations(report: Report, stream: TextIO) -> None:
    stream.write(report.text())


def _cmd_validate(args: argparse.Namespace) -> int:
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


def _cmd_argv(args: argparse.Namespace) -> int:
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


def _cmd_fmt(args: argparse.Namespace) -> int:
    report = validate(read_input(args.file))
    syntax_rules = {v.rule for v in report.errors if v.rule.startswith("XML-")}
    if report.domain is None or syntax_rules:
        _print_violations(report, sys.stderr)
        return EXIT_REJECTED
    sys.stdout.write(format_xml(report.domain))
    return EXIT_ACCEPTED if report.accepted else EXIT_REJECTED


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="gi-conform",
        description="Reference implementation and conformance harness for ACPI Generic "
        "Initiators in libvirt domain XML.",
        epilog="Exit status: 0 accepted, 1 rejected, 2 usage error or unreadable file.",
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    argv = commands.add_parser("argv", help="print the QEMU argv of a domain document")
    argv.add_argument("file", metavar="FILE", help="domain XML, or - for stdin")
    argv.add_argument(
        "--profile",
        choices=[p.value for p in Profile],
        help="argv profile (default: the dialect of the input, seed if it has seed elements)",
    )
    argv.add_argument("--format", choices=["args", "json"], default="args")
    argv.set_defaults(handler=_cmd_argv)

    check = commands.add_parser("validate", help="report every rule a document breaks")
    check.add_argument("file", metavar="FILE", help="domain XML, or - for stdin")
    check.add_argument("--format", choices=["text", "json"], default="text")
    check.set_defaults(handler=_cmd_validate)

    fmt = commands.add_parser("fmt", help="print the canonical XML of a domain document")
    fmt.add_argument("file", metavar="FILE", help="domain XML, or - for stdin")
    fmt.set_defaults(handler=_cmd_fmt)

    qemu_cli.add_parser(commands)
    libvirt_cli.add_parser(commands)
    oracle_cli.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status (the console script passes it to exit)."""
    try:
        args = build_parser().parse_args(argv)
        handler: Callable[[argparse.Namespace], int] = args.handler
        return handler(args)
    except UsageError as error:
        sys.stderr.write(f"gi-conform: error: {error}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        sys.stderr.write("gi-conform: interrupted\n")
        return 130
    except BrokenPipeError:
        return EXIT_ACCEPTED
    except Exception as error:  # the promise: no traceback reaches the user
        sys.stderr.write(
            f"gi-conform: internal error: {type(error).__name__}: {error}\n"
            "This is a bug in gi-conform; please report it with the input document.\n"
        )
        return EXIT_INTERNAL


if __name__ == "__main__":
    raise SystemExit(main())
