"""Running ``gi-conform qemu`` (its options are in :mod:`gi_conform.cli.qemu`): the
reference argv in real QEMU, the guest's tables checked against the document."""

from __future__ import annotations

import argparse
import json
import sys

from gi_conform.argv.build import Profile, build_argv, default_profile, render_args
from gi_conform.cli.common import (
    EXIT_QEMU_FAILED,
    EXIT_REJECTED,
    EXIT_USAGE,
)
from gi_conform.cli.files import FileOutcome, checks_summary, logs_dir, run_files
from gi_conform.document.validate import validate
from gi_conform.groundtruth.qemu import (
    QemuBinary,
    QemuRefused,
    QemuTimeout,
    QemuUnavailable,
    find_qemu,
    read_tables,
)
from gi_conform.groundtruth.runnable import (
    acpi_check,
    acpi_words,
    document_command,
    libvirt_acpi,
    runnable_report,
)
from gi_conform.groundtruth.tables import Check, compare_tables

__all__ = ["run"]


def run(args: argparse.Namespace) -> int:
    """The ``qemu`` command: every FILE validated, run in QEMU and compared."""
    try:
        binary = find_qemu()
    except QemuUnavailable as error:
        sys.stderr.write(f"gi-conform: {error}\n")
        return EXIT_USAGE
    return run_files(
        args.files,
        lambda name, document: _check(args, name, document, binary),
        jobs=args.jobs,
        as_json=args.json,
    )


def _check(args: argparse.Namespace, name: str, document: bytes, binary: QemuBinary) -> FileOutcome:
    """One document: validate, run the reference argv in QEMU, compare."""
    report = validate(document)
    if not runnable_report(report) or report.domain is None:
        return FileOutcome(EXIT_REJECTED, stderr=report.text())
    domain = report.domain
    profile = Profile(args.profile) if args.profile else default_profile(domain)
    acpi = libvirt_acpi(domain) or args.force_acpi
    command = document_command(domain, profile, binary.path, acpi=acpi)
    logs = logs_dir(args.keep_logs, args.files, name)
    if logs is not None:
        logs.mkdir(parents=True, exist_ok=True)
        (logs / "profile.args").write_text(render_args(build_argv(domain, profile)))
        (logs / "command.json").write_text(json.dumps(command, indent=1) + "\n")
    try:
        readback = read_tables(command, timeout=args.timeout)
    except QemuRefused as error:
        if logs is not None:
            (logs / "qemu.stderr").write_text(error.stderr)
        return FileOutcome(
            EXIT_QEMU_FAILED,
            stderr=report.text() + f"gi-conform: QEMU refused the command line:\n{error.stderr}",
        )
    except QemuTimeout as error:
        if acpi:
            return FileOutcome(EXIT_QEMU_FAILED, stderr=report.text() + f"gi-conform: {error}\n")
        readback = None  # acpi=off: SeaBIOS publishes tables on q35, none on i440fx
        missing = str(error).split(";", 1)[0]
    lost = acpi_check(domain, forced=args.force_acpi)
    checks = [
        *([lost] if lost is not None else []),
        *(
            compare_tables(domain, profile, readback)
            if readback is not None
            else [Check("guest's ACPI tables", "none (acpi=off)", missing, True)]
        ),
    ]
    if logs is not None:
        (logs / "checks.json").write_text(
            json.dumps([c.as_json() for c in checks], indent=1) + "\n"
        )
    version = ".".join(map(str, binary.version))
    passed, text = checks_summary(
        checks, f"QEMU {version}, profile {profile.value}{acpi_words(domain, acpi)}"
    )
    payload = {
        "file": name,
        "profile": profile.value,
        "qemu": version,
        "acpi": "on" if acpi else "off",
        "acpi_forced": acpi and not libvirt_acpi(domain),
        "passed": passed,
        "checks": [check.as_json() for check in checks],
    }
    return FileOutcome(
        0 if passed else 1,
        stdout="" if args.json else text,
        stderr=report.text(),
        payload=payload,
    )
