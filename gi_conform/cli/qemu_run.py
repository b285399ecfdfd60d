"""Running ``gi-conform qemu`` (its options are in :mod:`gi_conform.cli.qemu`): the
reference argv in real QEMU, the guest's tables checked against the document."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from gi_conform.argv.build import Profile, build_argv, default_profile, render_args
from gi_conform.cli.common import (
    EXIT_QEMU_FAILED,
    EXIT_REJECTED,
    EXIT_USAGE,
    check_table,
    read_input,
)
from gi_conform.document.validate import validate
from gi_conform.groundtruth.qemu import (
    QemuRefused,
    QemuTimeout,
    QemuUnavailable,
    find_qemu,
    read_tables,
)
from gi_conform.groundtruth.runnable import document_command
from gi_conform.groundtruth.tables import compare_tables

__all__ = ["run"]


def run(args: argparse.Namespace) -> int:
    """The ``qemu`` command: validate, run the reference argv in QEMU, compare."""
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
    command = document_command(domain, profile, binary.path)
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
        sys.stdout.write(check_table(checks))
        failed = sum(not check.ok for check in checks)
        sys.stdout.write(
            f"{len(checks) - failed}/{len(checks)} checks passed "
            f"(QEMU {'.'.join(map(str, binary.version))}, profile {profile.value})\n"
        )
    return 0 if passed else 1
