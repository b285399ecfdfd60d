"""``gi-conform qemu``: run a document's reference argv in real QEMU and check the SRAT.

Exit status: 0 every check passed; 1 a check failed, or the document is rejected;
2 usage error, unreadable file, or no QEMU >= 9.2 (the message says how to install it);
3 QEMU refused the command line or did not publish its tables in time (its stderr shown).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from gi_conform.argv.build import Profile, build_argv, default_profile, flatten, render_args
from gi_conform.cli.common import EXIT_QEMU_FAILED, EXIT_REJECTED, EXIT_USAGE, read_input
from gi_conform.document.validate import validate
from gi_conform.groundtruth.qemu import (
    QemuRefused,
    QemuTimeout,
    QemuUnavailable,
    find_qemu,
    read_tables,
)
from gi_conform.groundtruth.runnable import runnable_argv
from gi_conform.groundtruth.tables import Check, compare_tables, memory_size
from gi_conform.model import Domain

__all__ = ["EXIT_QEMU_FAILED", "add_parser", "qemu_argv"]


def qemu_argv(domain: Domain, profile: Profile, binary: str) -> list[str]:
    """The runnable command for a valid document: its reference argv, wrapped for QEMU."""
    machine = "pc" if domain.pci_root_bus == "pci.0" else "q35"
    return runnable_argv(
        flatten(build_argv(domain, profile)),
        memory_bytes=memory_size(domain),
        vcpus=domain.vcpus or 1,
        machine=machine,
        binary=binary,
    )


def _table(checks: tuple[Check, ...]) -> str:
    rows = [("entry", "expected", "seen", "result")] + [
        (c.entry, c.expected, c.seen, "PASS" if c.ok else "FAIL") for c in checks
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    return "".join(
        f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]:<{widths[2]}}  {row[3]}\n"
        for row in rows
    )


def _run(args: argparse.Namespace) -> int:
    report = validate(read_input(args.file))
    sys.stderr.write(report.text())
    if not report.accepted or report.domain is None:
        return EXIT_REJECTED
    domain = report.domain
    profile = Profile(args.profile) if args.profile else default_profile(domain)
    try:
        binary = find_qemu()
    except QemuUnavailable as error:
        sys.stderr.write(f"gi-conform: {error}\n")
        return EXIT_USAGE
    command = qemu_argv(domain, profile, binary.path)
    logs = Path(args.keep_logs) if args.keep_logs else None
    if logs is not None:
        logs.mkdir(parents=True, exist_ok=True)
        (logs / "profile.args").write_text(render_args(build_argv(domain, profile)))
        (logs / "command.json").write_text(json.dumps(command, indent=1) + "\n")
    try:
        readback = read_tables(command, timeout=args.timeout)
    except QemuRefused as error:
        sys.stderr.write(f"gi-conform: QEMU refused the command line:\n{error.stderr}")
        if logs is not None:
            (logs / "qemu.stderr").write_text(error.stderr)
        return EXIT_QEMU_FAILED
    except QemuTimeout as error:
        sys.stderr.write(f"gi-conform: {error}\n")
        return EXIT_QEMU_FAILED
    checks = compare_tables(domain, profile, readback)
    passed = all(check.ok for check in checks)
    if logs is not None:
        (logs / "checks.json").write_text(
            json.dumps([c.as_json() for c in checks], indent=1) + "\n"
        )
    if args.json:
        payload = {
            "file": args.file,
            "profile": profile.value,
            "qemu": ".".join(map(str, binary.version)),
            "passed": passed,
            "checks": [check.as_json() for check in checks],
        }
        sys.stdout.write(json.dumps(payload, indent=2) + "\n")
    else:
        sys.stdout.write(_table(checks))
        failed = sum(not check.ok for check in checks)
        sys.stdout.write(
            f"{len(checks) - failed}/{len(checks)} checks passed "
            f"(QEMU {'.'.join(map(str, binary.version))}, profile {profile.value})\n"
        )
    return 0 if passed else 1


def add_parser(commands: argparse._SubParsersAction[Any]) -> None:
    """Register ``gi-conform qemu`` on the main parser's subcommands."""
    parser = commands.add_parser(
        "qemu", help="run the reference argv in real QEMU and check the guest's SRAT"
    )
    parser.add_argument("file", metavar="FILE", help="domain XML, or - for stdin")
    parser.add_argument("--profile", choices=[p.value for p in Profile])
    parser.add_argument("--json", action="store_true", help="print the checks as JSON")
    parser.add_argument("--keep-logs", metavar="DIR", help="keep the command line and results")
    parser.add_argument(
        "--timeout", type=float, default=20.0, help="seconds to wait for QEMU (default 20)"
    )
    parser.set_defaults(handler=_run)
