"""The ``gi-conform`` command line: builds the parser from the command families, runs
the chosen command and turns what escapes it into an exit status.

Exit status is an interface other tools rely on (see :mod:`gi_conform.cli.common`):
0 accepted / success, 1 rejected (an error-severity rule, malformed XML included),
2 usage error or unreadable input, 70 internal error (a bug: please report it).
No Python traceback ever reaches the user.

Every command's ``--help`` ends with its exit statuses and an example; both come from
:data:`MANNERS`, which the documentation's CLI reference reads too (one source).
"""

from __future__ import annotations

import argparse
import re
import sys
import textwrap
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from importlib import metadata
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
    "COMMON_EXITS",
    "EXIT_ACCEPTED",
    "EXIT_INTERNAL",
    "EXIT_REJECTED",
    "EXIT_USAGE",
    "MANNERS",
    "Manners",
    "UsageError",
    "build_parser",
    "command_parsers",
    "main",
    "version",
]


@dataclass(frozen=True)
class Manners:
    """What a command's help ends with: its exit statuses and one example command."""

    exits: tuple[tuple[int, str], ...]
    example: str


COMMON_EXITS: tuple[tuple[int, str], ...] = (
    (EXIT_INTERNAL, "internal error (a bug: please report it with the input)"),
    (EXIT_INTERRUPTED, "interrupted (Ctrl-C)"),
)
"""Exit statuses every command shares (after its own)."""

_DOCUMENT_EXITS = (
    (0, "accepted (warnings may have been printed)"),
    (1, "rejected: an error-severity rule, malformed XML included"),
    (2, "usage error, or the file cannot be read"),
)
_LIBVIRT_EXITS = (
    (0, "success, or the document is accepted"),
    (1, "libvirt rejected the document"),
    (2, "usage error, not root, or no libvirt set up (the message says how)"),
    (3, "a setup step failed, or libvirt failed without a verdict"),
)

MANNERS: dict[str, Manners] = {
    "gi-conform": Manners(
        (
            (0, "success / accepted"),
            (1, "rejected, or a check failed"),
            (2, "usage error or unreadable input"),
            (3, "QEMU, the guest or libvirt failed without a verdict (qemu, guest, libvirt)"),
        ),
        "gi-conform validate cases/gi-node-unknown.xml",
    ),
    "gi-conform argv": Manners(
        _DOCUMENT_EXITS, "gi-conform argv cases/seed-example.xml --profile libvirt"
    ),
    "gi-conform validate": Manners(
        _DOCUMENT_EXITS, "gi-conform validate cases/gi-node-unknown.xml --format json"
    ),
    "gi-conform fmt": Manners(_DOCUMENT_EXITS, "gi-conform fmt cases/two-gpus-nodeset.xml"),
    "gi-conform qemu": Manners(
        (
            (0, "every check passed"),
            (1, "a check failed, or the document is rejected"),
            (2, "usage error, unreadable file, or no QEMU >= 9.2 (the message says how)"),
            (3, "QEMU refused the command line or did not publish its tables in time"),
        ),
        "gi-conform qemu cases/two-gpus-nodeset.xml cases/gi-node-order.xml --jobs 2",
    ),
    "gi-conform guest": Manners(
        (
            (0, "every check passed (setup, status, teardown: done)"),
            (1, "a check failed, or the document is rejected"),
            (2, "usage error, unreadable file, or no guest kit set up (the message says how)"),
            (3, "QEMU refused the command line, or the guest did not report in time"),
        ),
        "gi-conform guest cases/gi-node-order.xml --arch aarch64",
    ),
    "gi-conform libvirt": Manners(_LIBVIRT_EXITS, "gi-conform libvirt status"),
    "gi-conform libvirt setup": Manners(_LIBVIRT_EXITS, "gi-conform libvirt setup --drivers 4"),
    "gi-conform libvirt teardown": Manners(_LIBVIRT_EXITS, "gi-conform libvirt teardown"),
    "gi-conform libvirt status": Manners(_LIBVIRT_EXITS, "gi-conform libvirt status --json"),
    "gi-conform libvirt argv": Manners(
        _LIBVIRT_EXITS, "gi-conform libvirt argv cases/mdev-nodeset.xml --full"
    ),
    "gi-conform libvirt prove": Manners(
        (
            (0, "no libvirt gap proven"),
            (1, "at least one libvirt gap proven"),
            (2, "usage error, no libvirt or QEMU >= 9.2, nothing selected, --json not writable"),
        ),
        "gi-conform libvirt prove --case 'gi-*' --json proofs.json",
    ),
    "gi-conform check": Manners(
        (
            (
                0,
                "every case passed (skips and known deviations allowed; with --baseline: "
                "no failure the baseline does not have)",
            ),
            (
                1,
                "a case failed or errored (with --baseline: a new (case, key) pair), or "
                "the implementation skipped every case",
            ),
            (
                2,
                "usage error: bad option or --impl, no case selected, report not writable, "
                "unreadable known deviations, baseline or generated set",
            ),
        ),
        "gi-conform check --impl 'cmd:./my-tool --profile {profile} {}' --report json my.json",
    ),
    "gi-conform generate": Manners(
        (
            (0, "written"),
            (2, "usage error: DIR not empty (without --force), not a generated set, not writable"),
        ),
        "gi-conform generate --seed 0 -n 200 my-set/",
    ),
    "gi-conform report": Manners(
        (
            (0, "written"),
            (2, "usage error, or a report unreadable or not a check report of version 1"),
        ),
        "gi-conform report reference.json my.json --html conformance.html",
    ),
}
"""Exit statuses and an example per command, keyed by the command's ``prog``."""

_EXIT_PARAGRAPH = re.compile(r"(?is)\s*\bexit status:.*\Z")
"""A command family's own exit-status text, replaced by :data:`MANNERS`' (one format)."""


def version() -> str:
    """The installed distribution's version (``unknown`` outside an installation)."""
    try:
        return metadata.version("gi-conform")
    except metadata.PackageNotFoundError:
        return "unknown"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        raise UsageError(message)


def command_parsers(
    parser: argparse.ArgumentParser,
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """Every parser under ``parser`` (itself first), depth first, with its ``prog``."""
    yield parser.prog, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                yield from command_parsers(sub)


def _wrapped(text: str) -> str:
    return "\n\n".join(textwrap.fill(" ".join(p.split()), 78) for p in text.split("\n\n"))


def _add_manners(parser: argparse.ArgumentParser) -> None:
    """End the help with the exit statuses and the example (one format for all)."""
    manners = MANNERS[parser.prog]
    raw = parser.formatter_class is argparse.RawDescriptionHelpFormatter
    epilog = _EXIT_PARAGRAPH.sub("", parser.epilog or "").rstrip()
    if not raw:
        epilog = _wrapped(epilog) if epilog else ""
        if parser.description:
            parser.description = _wrapped(parser.description)
    exits = "\n".join(f"  {code:<3} {text}" for code, text in manners.exits + COMMON_EXITS)
    parts = [epilog] if epilog else []
    parts += [f"exit status:\n{exits}", f"example:\n  {manners.example}"]
    parser.epilog = "\n\n".join(parts)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="gi-conform",
        description="Reference implementation and conformance harness for ACPI Generic "
        "Initiators in libvirt domain XML.",
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {version()}", help="print the version"
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    document.add_parsers(commands)
    qemu.add_parser(commands)
    guest.add_parser(commands)
    libvirt.add_parser(commands)
    check.add_parser(commands)
    generate.add_parser(commands)
    report.add_parser(commands)
    for _, each in command_parsers(parser):
        _add_manners(each)
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
