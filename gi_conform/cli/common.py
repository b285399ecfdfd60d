"""What every ``gi-conform`` command shares: the exit statuses, :class:`UsageError`,
reading a document from a file or stdin, argparse value types (a bad value is a usage
error, exit 2, with a message naming it, never a traceback) and the document-source
options ``check`` and ``libvirt prove`` both take.

Exit status is an interface other tools rely on:
0 accepted / success, 1 rejected (an error-severity rule, malformed XML included),
2 usage error or unreadable input, 3 QEMU or libvirt failed without a verdict
(``qemu``, ``libvirt``), 70 internal error (a bug: please report it), 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from gi_conform.argv.options import parse_size
from gi_conform.document.parse import MAX_DOCUMENT_BYTES

if TYPE_CHECKING:
    from gi_conform.groundtruth.tables import Check

__all__ = [
    "EXIT_ACCEPTED",
    "EXIT_GUEST_FAILED",
    "EXIT_INTERNAL",
    "EXIT_INTERRUPTED",
    "EXIT_LIBVIRT_FAILED",
    "EXIT_QEMU_FAILED",
    "EXIT_REJECTED",
    "EXIT_USAGE",
    "TABLE_WIDTH",
    "UsageError",
    "add_document_sources",
    "check_table",
    "count",
    "jobs",
    "memory_limit",
    "positive_int",
    "read_input",
    "said",
    "say",
    "seconds",
]

EXIT_ACCEPTED = 0
EXIT_REJECTED = 1
EXIT_USAGE = 2
EXIT_QEMU_FAILED = 3
"""``gi-conform qemu``: QEMU refused the command line or did not publish its tables."""
EXIT_GUEST_FAILED = 3
"""``gi-conform guest``: QEMU refused the command or the guest did not report in time."""
EXIT_LIBVIRT_FAILED = 3
"""``gi-conform libvirt``: a setup or teardown step failed, or libvirt gave no verdict."""
EXIT_INTERNAL = 70
EXIT_INTERRUPTED = 130


class UsageError(Exception):
    """Bad invocation or unreadable input: exit status 2."""


def read_input(name: str) -> bytes:
    """The bytes of FILE or of stdin for ``-``, at most one byte past the size limit."""
    try:
        if name == "-":
            return sys.stdin.buffer.read(MAX_DOCUMENT_BYTES + 1)
        with Path(name).open("rb") as handle:
            return handle.read(MAX_DOCUMENT_BYTES + 1)
    except OSError as error:
        raise UsageError(f"cannot read {name}: {error.strerror or error}") from None


def add_document_sources(parser: argparse.ArgumentParser) -> None:
    """``--corpus DIR | --no-corpus``, ``--generated N``, ``--seed S``."""
    corpus = parser.add_mutually_exclusive_group()
    corpus.add_argument("--corpus", metavar="DIR", type=Path, help="another corpus folder")
    corpus.add_argument("--no-corpus", action="store_true", help="generated documents only")
    parser.add_argument(
        "--generated", type=count, default=200, metavar="N", help="generated documents (200)"
    )
    parser.add_argument("--seed", type=int, default=0, help="generation seed (0)")


def _integer(text: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"{value} is below {minimum}")
    return value


def count(text: str) -> int:
    """An integer >= 0."""
    return _integer(text, 0)


def positive_int(text: str) -> int:
    """An integer >= 1."""
    return _integer(text, 1)


def jobs(text: str) -> int:
    """``--jobs``: how many cases run at once, 1 or more."""
    return _integer(text, 1)


_MIN_MEMORY_LIMIT = 64 << 20


def memory_limit(text: str) -> int | None:
    """``--memory-limit``: a size (``16G``, ``512M``; a bare number is MiB) or ``none``."""
    if text.strip().lower() in ("none", "0", "off"):
        return None
    try:
        value = parse_size(text, default_shift=20)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{text!r} {error}") from None
    if value < _MIN_MEMORY_LIMIT:
        raise argparse.ArgumentTypeError(f"{text} is below 64M (a shell needs more)")
    return value


def seconds(text: str) -> float:
    """A number of seconds above 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text} is not above 0")
    return value


def said(command: str, message: str) -> str:
    """The line :func:`say` prints, for output that is printed later (in file order)."""
    return f"gi-conform {command}: {message}\n"


def say(command: str, message: str) -> None:
    """One progress or error line on standard error, named by its command
    (``gi-conform libvirt: ...``), flushed at once for a watching user."""
    sys.stderr.write(said(command, message))
    sys.stderr.flush()


TABLE_WIDTH = 100
"""The ground-truth tables fit a 100-column terminal; ``--json`` keeps every value whole."""
_ENTRY_WIDTH = 34
_CELL_LINES = 3


def _cell(text: str, width: int) -> list[str]:
    """``text`` wrapped to ``width`` columns, at most three lines; the rest elided with
    its length (a 34-node distance matrix is 3,500 characters)."""
    lines = textwrap.wrap(text, width, break_long_words=True, break_on_hyphens=False) or [""]
    if len(lines) <= _CELL_LINES:
        return lines
    tail = f"... ({len(text)} chars)"
    kept = lines[: _CELL_LINES - 1]
    return [*kept, lines[_CELL_LINES - 1][: max(0, width - len(tail) - 1)] + " " + tail]


def check_table(checks: Sequence[Check], width: int = TABLE_WIDTH) -> str:
    """Ground-truth checks as an aligned text table: entry, expected, seen, PASS/FAIL;
    failures first, every line at most ``width`` columns (long values wrapped, then
    elided: ``--json`` has them whole)."""
    ordered = [c for c in checks if not c.ok] + [c for c in checks if c.ok]
    rows = [("entry", "expected", "seen", "result")] + [
        (c.entry, c.expected, c.seen, "PASS" if c.ok else "FAIL") for c in ordered
    ]
    natural = [max(len(row[i]) for row in rows) for i in range(3)]
    room = width - 3 * 2 - len("result")
    if sum(natural) <= room:
        widths = natural
    else:
        entry = min(natural[0], _ENTRY_WIDTH)
        rest = room - entry
        expected = min(natural[1], max(rest // 2, rest - natural[2]))
        widths = [entry, expected, min(natural[2], rest - expected)]
    out: list[str] = []
    for row in rows:
        cells = [_cell(row[i], widths[i]) for i in range(3)]
        for n in range(max(len(c) for c in cells)):
            parts = [c[n] if n < len(c) else "" for c in cells]
            result = row[3] if n == 0 else ""
            line = f"{parts[0]:<{widths[0]}}  {parts[1]:<{widths[1]}}  {parts[2]:<{widths[2]}}"
            out.append(f"{line}  {result}".rstrip() + "\n")
    return "".join(out)
