"""Running ``gi-conform guest`` (its options are in :mod:`gi_conform.cli.guest`): the kit
actions, and one boot of the document's guest with its checks."""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from pathlib import Path
from typing import Any

from gi_conform.argv.build import Profile, default_profile
from gi_conform.cli.common import (
    EXIT_GUEST_FAILED,
    EXIT_REJECTED,
    EXIT_USAGE,
    TABLE_WIDTH,
    UsageError,
    said,
    say,
)
from gi_conform.cli.files import FileOutcome, checks_summary, logs_dir, run_files
from gi_conform.document.validate import validate
from gi_conform.groundtruth.guest import (
    ARCHITECTURES,
    GuestReportError,
    GuestView,
    boot_command,
    guest_arch,
    read_guest_view,
)
from gi_conform.groundtruth.guest_checks import compare_guest, node_capacity
from gi_conform.groundtruth.guest_setup import (
    GuestSetupError,
    GuestUnavailable,
    KernelNotFound,
    default_dir,
    kernels,
    locate_kit,
    setup,
    status,
    teardown,
)
from gi_conform.groundtruth.qemu import QemuRefused, QemuTimeout
from gi_conform.groundtruth.runnable import (
    acpi_check,
    acpi_words,
    document_command,
    libvirt_acpi,
    runnable_report,
)

__all__ = ["run", "run_action"]


def _progress(message: str) -> None:
    say("guest", message)


def run_action(args: argparse.Namespace) -> int:
    """``guest setup|status|teardown [DIR]``."""
    directory = Path(args.dir) if args.dir else default_dir()
    if args.file == "setup":
        try:
            setup(directory, progress=_progress, refresh=args.refresh)
        except (GuestSetupError, OSError) as error:
            _progress(f"error: {error}")
            return EXIT_GUEST_FAILED
        return 0
    if args.file == "teardown":
        removed = teardown(directory)
        _progress(f"removed {directory}" if removed else f"nothing to remove at {directory}")
        return 0
    state = status(directory)
    held = {arch: kernels(arch, directory) for arch in ARCHITECTURES}
    if args.json:
        listed = {arch: [k.as_json() for k in found] for arch, found in held.items()}
        sys.stdout.write(
            json.dumps({"dir": str(directory), **state, "kernel_list": listed}, indent=2) + "\n"
        )
    elif not state:
        sys.stdout.write(f"no guest kits in {directory}: run 'gi-conform guest setup'\n")
    else:
        packages = state.get("packages")
        sys.stdout.write(f"guest kits in {directory}:\n")
        if isinstance(packages, dict):
            for key, record in sorted(packages.items()):
                if isinstance(record, dict):
                    sys.stdout.write(
                        f"  {key}: {record.get('package')} {record.get('version')} "
                        f"({record.get('suite')})\n"
                    )
        sys.stdout.write("kernels (--kernel NAME; the first of each arch is the default):\n")
        for arch, found in held.items():
            for kernel in found:
                limit = "unknown" if kernel.node_limit is None else str(kernel.node_limit)
                sys.stdout.write(
                    f"  {arch:<8} {kernel.name:<12} {kernel.release:<28} "
                    f"nodes {limit:>5} (CONFIG_NODES_SHIFT={kernel.shift})  {kernel.origin}\n"
                )
    return 0 if state else EXIT_USAGE


def _view_json(view: GuestView) -> dict[str, Any]:
    return {
        "kernel": view.kernel,
        "online": sorted(view.online),
        "has_cpu": sorted(view.has_cpu),
        "has_memory": sorted(view.has_memory),
        "has_generic_initiator": sorted(view.has_generic_initiator),
        "nodes": [
            {
                "node": node.node,
                "cpus": sorted(node.cpus),
                "memory_kb": node.memory_kb,
                "distances": list(node.distances),
                "access": [
                    {
                        "class": a.access,
                        "initiators": sorted(a.initiators),
                        "read_latency_ns": a.read_latency,
                        "write_latency_ns": a.write_latency,
                        "read_bandwidth_mbps": a.read_bandwidth,
                        "write_bandwidth_mbps": a.write_bandwidth,
                    }
                    for a in node.access
                ],
            }
            for node in view.nodes
        ],
        "pci": [
            {
                "address": p.address,
                "vendor": f"{p.vendor:04x}",
                "device": f"{p.device:04x}",
                "numa_node": p.numa_node,
            }
            for p in view.pci
        ],
    }


def run(args: argparse.Namespace) -> int:
    """The ``guest`` command: every FILE booted (``--jobs`` at once) and checked."""
    if args.firmware is not None and not Path(args.firmware).is_file():
        raise UsageError(f"{args.firmware}: no such file")
    return run_files(
        args.files,
        lambda name, document: _check(args, name, document),
        jobs=args.jobs,
        as_json=args.json,
    )


def _check(args: argparse.Namespace, name: str, document: bytes) -> FileOutcome:
    """One document: validate, boot its guest, read what the kernel built, compare."""
    report = validate(document)
    if not runnable_report(report) or report.domain is None:
        return FileOutcome(EXIT_REJECTED, stderr=report.text())
    domain = report.domain
    arch = guest_arch(domain) if args.arch == "auto" else args.arch
    if arch not in ARCHITECTURES:
        raise UsageError(f"{name}: no guest for architecture {arch!r} ({', '.join(ARCHITECTURES)})")
    profile = Profile(args.profile) if args.profile else default_profile(domain)
    acpi = libvirt_acpi(domain) or args.force_acpi
    try:
        kit = locate_kit(
            arch,
            kernel=args.kernel,
            firmware=Path(args.firmware) if args.firmware else None,
        )
    except KernelNotFound as error:
        raise UsageError(str(error)) from None
    except GuestUnavailable as error:
        return FileOutcome(EXIT_USAGE, stderr=report.text() + said("guest", f"error: {error}"))
    kernel = kit.about.as_json() if kit.about is not None else {"image": str(kit.kernel)}
    finding = node_capacity(domain, profile, kit.about) if kit.about is not None else None
    if finding is not None:
        sentence = (
            f"FAIL {finding.entry}={finding.seen}; the document needs {finding.expected}. "
            "Such a guest drops the rest (ACPI: SRAT: Too many proximity domains.), so it "
            "was not booted: use the built kernel (the default) or another --kernel from "
            "'gi-conform guest status'."
        )
        text = textwrap.fill(
            sentence, TABLE_WIDTH, subsequent_indent="     ", break_on_hyphens=False
        ) + (f"\n0/1 checks passed ({arch}, not booted)\n")
        payload_ = {
            "file": name,
            "arch": arch,
            "profile": profile.value,
            "kernel": kernel,
            "booted": False,
            "passed": False,
            "checks": [finding.as_json()],
        }
        return FileOutcome(
            1, stdout="" if args.json else text, stderr=report.text(), payload=payload_
        )
    try:
        boot = boot_command(
            document_command(domain, profile, kit.qemu, arch=kit.arch, acpi=acpi),
            kit,
            timeout=args.timeout,
            keep_logs=logs_dir(args.keep_logs, args.files, name),
        )
        view = read_guest_view(boot.report)
    except QemuRefused as error:
        message = said("guest", f"error: QEMU refused the command line:\n{error.stderr}")
        return FileOutcome(EXIT_GUEST_FAILED, stderr=report.text() + message)
    except (QemuTimeout, GuestReportError) as error:
        return FileOutcome(
            EXIT_GUEST_FAILED, stderr=report.text() + said("guest", f"error: {error}")
        )
    lost = acpi_check(domain, forced=args.force_acpi)
    checks = [*([lost] if lost is not None else []), *compare_guest(domain, profile, view)]
    passed, text = checks_summary(
        checks,
        f"{arch}, kernel {kit.about.name if kit.about else kit.kernel} ({view.kernel}), "
        f"profile {profile.value}{acpi_words(domain, acpi)}, booted in {boot.seconds:.1f} s",
    )
    payload = {
        "file": name,
        "arch": arch,
        "profile": profile.value,
        "acpi": "on" if acpi else "off",
        "acpi_forced": acpi and not libvirt_acpi(domain),
        "kernel": kernel,
        "booted": True,
        "seconds": round(boot.seconds, 2),
        "passed": passed,
        "checks": [check.as_json() for check in checks],
        "guest": _view_json(view),
        "problems": list(boot.report.problems),
    }
    return FileOutcome(
        0 if passed else 1, stdout="" if args.json else text, stderr=report.text(), payload=payload
    )
