"""The ``gi-conform`` command line: builds the parser from the command families, runs
the chosen command and turns what escapes it into an exit status.

Exit status is an interface other tools rely on (see :mod:`gi_conform.cli.common`):
0 accepted / success, 1 rejected (an error-severity rule, malformed XML included),
2 usage error or unreadable input, 70 internal error (a bug: please report it).
No Python traceback ever reaches the user.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from gi_conform.cli import check, document, generate, guest, libvirt, qemu, report
from gi_conform.cli.common import (
    EXIT_ACCEPTED,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_REJECTED,
    EXIT_USAGE,
    UsageError,
)

__all__ = [
    "EXIT_ACCEPTED",
    "EXIT_INTERNAL",
    "EXIT_REJECTED",
    "EXIT_USAGE",
    "UsageError",
    "build_parser",
    "main",
]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="gi-conform",
        description="Reference implementation and conformance harness for ACPI Generic "
        "Initiators in libvirt domain XML.",
        epilog="Exit status: 0 accepted, 1 rejected, 2 usage error or unreadable file.",
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    document.add_parsers(commands)
    qemu.add_parser(commands)
    guest.add_parser(commands)
    libvirt.add_parser(commands)
    check.add_parser(commands)
    generate.add_parser(commands)
    report.add_parser(commands)
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
        return EXIT_INTERRUPTED
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
