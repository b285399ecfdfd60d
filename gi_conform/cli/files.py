"""Several documents in one ground-truth command (``qemu``, ``guest``), ``--jobs`` at once.

Each document's check runs in a thread (the work is a QEMU process: threads are enough)
and returns its output instead of printing it, so the output comes in the order the
files were given and reads the same for any ``--jobs``. One file prints exactly what it
printed before; several print each one's text under a ``== FILE`` line, or with
``--json`` one JSON array of the per-file objects. The exit status is the highest of the
files' statuses.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from gi_conform.cli.common import UsageError, check_table, read_input
from gi_conform.groundtruth.tables import Check

__all__ = ["FileOutcome", "checks_summary", "logs_dir", "run_files"]


@dataclass(frozen=True)
class FileOutcome:
    """What checking one file printed, and its exit status."""

    status: int
    stdout: str = ""
    stderr: str = ""
    payload: Mapping[str, object] = field(default_factory=dict)
    """The ``--json`` object (empty when the file has none, e.g. a rejected document)."""


def run_files(
    files: Sequence[str],
    check_one: Callable[[str, bytes], FileOutcome],
    *,
    jobs: int,
    as_json: bool,
) -> int:
    """Read every file (stdin once), check each, ``jobs`` at a time; print in file order;
    the highest status. ``check_one(name, document)`` is called from a worker thread."""
    if list(files).count("-") > 1:
        raise UsageError("stdin (-) can be given once")
    documents = {name: read_input(name) for name in files}
    status = 0
    payloads: list[Mapping[str, object]] = []
    with ThreadPoolExecutor(max(1, min(jobs, len(files))), thread_name_prefix="gi-file") as pool:
        for name, outcome in zip(
            files, pool.map(lambda name: check_one(name, documents[name]), files), strict=True
        ):
            if len(files) > 1 and not as_json:
                sys.stdout.write(f"== {name}\n")
            sys.stderr.write(outcome.stderr)
            sys.stdout.write(outcome.stdout)
            sys.stdout.flush()
            if outcome.payload:
                payloads.append(outcome.payload)
            status = max(status, outcome.status)
    if as_json:
        if len(files) == 1:
            if payloads:
                sys.stdout.write(json.dumps(payloads[0], indent=2) + "\n")
        else:
            sys.stdout.write(json.dumps(payloads, indent=2) + "\n")
    return status


def logs_dir(keep_logs: str | None, files: Sequence[str], name: str) -> Path | None:
    """``--keep-logs DIR``: DIR itself for one file, ``DIR/<file stem>`` for several."""
    if not keep_logs:
        return None
    if len(files) == 1:
        return Path(keep_logs)
    return Path(keep_logs) / (Path(name).stem if name != "-" else "stdin")


def checks_summary(checks: Sequence[Check], about: str) -> tuple[bool, str]:
    """Whether every check passed, and the table with its ``N/M checks passed (ABOUT)``."""
    failed = sum(not check.ok for check in checks)
    return not failed, (
        check_table(checks) + f"{len(checks) - failed}/{len(checks)} checks passed ({about})\n"
    )
