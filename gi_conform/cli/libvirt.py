"""``gi-conform libvirt``: build, inspect and use a real libvirt (>= 11.8) for conformance.

Subcommands: ``setup [DIR]``, ``teardown [DIR]``, ``status [DIR]``, ``argv FILE [--dir DIR]``,
``prove [--dir DIR] [--generated N] [--seed S] ... [--json FILE]``.
DIR defaults to ``$GI_CONFORM_LIBVIRT_DIR`` or /var/cache/gi-conform/libvirt-sid.

Exit status: 0 success (``argv``: libvirt accepted the document; ``prove``: no libvirt
gap proven); 1 ``argv``: libvirt rejected the document (its message on stderr),
``prove``: real QEMU proved at least one libvirt gap; 2 usage error, unreadable file,
not root, no libvirt set up (the message says how to get one), no QEMU >= 9.2, no
document selected, or ``--json`` not writable; 3 a setup or teardown step failed, or
libvirt failed without a verdict (timeout, crash).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from gi_conform.argv.build import Option, render_args
from gi_conform.cli.common import (
    EXIT_LIBVIRT_FAILED,
    EXIT_REJECTED,
    EXIT_USAGE,
    add_document_sources,
    jobs,
    positive_int,
    read_input,
    say,
    seconds,
)
from gi_conform.libvirt.convert import LibvirtError, LibvirtTimeout, convert, reduce
from gi_conform.libvirt.install import (
    DEFAULT_DIR,
    DEFAULT_DRIVERS,
    DIR_ENV,
    LibvirtUnavailable,
    default_dir,
    locate,
)
from gi_conform.libvirt.lifecycle import LibvirtSetupError, setup, teardown
from gi_conform.model import DocumentDialect

__all__ = ["EXIT_LIBVIRT_FAILED", "add_parser"]


def _progress(message: str) -> None:
    say("libvirt", message)


def _directory(args: argparse.Namespace) -> Path:
    named: str | None = args.dir
    return Path(named) if named else default_dir()


def _options(argv: list[str]) -> list[Option]:
    """Pair flags with their values so the argv prints in the ``.args`` layout."""
    options: list[Option] = []
    index = 0
    while index < len(argv):
        flag = argv[index]
        if index + 1 < len(argv) and not argv[index + 1].startswith("-"):
            options.append(Option(flag, argv[index + 1]))
            index += 2
        else:
            options.append(Option(flag, ""))
            index += 1
    return options


def _render(argv: list[str]) -> str:
    text = render_args(_options(argv))
    return text.replace(" ''", "")  # flags without a value print bare


def _setup(args: argparse.Namespace) -> int:
    try:
        report = setup(
            _directory(args),
            mirror=args.mirror,
            drivers=args.drivers,
            use_system=not args.chroot,
            progress=_progress,
        )
    except LibvirtUnavailable as error:
        _progress(f"error: {error}")
        return EXIT_USAGE
    except (LibvirtSetupError, LibvirtError, LibvirtTimeout, OSError) as error:
        _progress(f"error: {error}")
        return EXIT_LIBVIRT_FAILED
    if report.timings:
        total = sum(took for _, took in report.timings)
        steps = ", ".join(f"{name} {took:.1f} s" for name, took in report.timings)
        _progress(f"set up in {total:.1f} s ({steps})")
    return 0


def _teardown(args: argparse.Namespace) -> int:
    try:
        teardown(_directory(args), progress=_progress)
    except LibvirtUnavailable as error:
        _progress(f"error: {error}")
        return EXIT_USAGE
    except (LibvirtSetupError, OSError) as error:
        _progress(f"error: {error}")
        return EXIT_LIBVIRT_FAILED
    return 0


def _status(args: argparse.Namespace) -> int:
    try:
        found = locate(Path(args.dir) if args.dir else None)
    except LibvirtUnavailable as error:
        if args.json:
            sys.stdout.write(json.dumps({"ready": False, "reason": str(error)}) + "\n")
        else:
            sys.stdout.write(f"not ready: {error}\n")
        return EXIT_USAGE
    if args.json:
        payload = {
            "ready": True,
            "kind": found.kind,
            "root": str(found.root),
            "home": str(found.home),
            "libvirt": found.version,
            "qemu": found.qemu_version,
            "drivers": found.drivers,
        }
        sys.stdout.write(json.dumps(payload) + "\n")
    else:
        sys.stdout.write(f"ready: {found.describe()}, {found.drivers} driver root(s)\n")
    return 0


def _argv(args: argparse.Namespace) -> int:
    data = read_input(args.file)
    try:
        result = convert(data, root=Path(args.dir) if args.dir else None, timeout=args.timeout)
    except LibvirtUnavailable as error:
        _progress(f"error: {error}")
        return EXIT_USAGE
    except (LibvirtTimeout, LibvirtError) as error:
        _progress(f"error: {error}")
        return EXIT_LIBVIRT_FAILED
    for change in result.adjustments:
        _progress(f"note: {change}")
    if not result.accepted:
        sys.stderr.write(result.message + "\n")
        return EXIT_REJECTED
    argv = list(result.argv) if args.full else reduce(result.argv)
    if args.format == "json":
        sys.stdout.write(json.dumps(argv, indent=1) + "\n")
    else:
        sys.stdout.write(_render(argv))
    _progress(f"converted in {result.seconds:.3f} s (driver root {result.driver})")
    return 0


def _prove(args: argparse.Namespace) -> int:
    # QEMU's QMP client (asyncio) and the oracle's case selection load only for ``prove``.
    from gi_conform.cli import libvirt_prove  # noqa: PLC0415 (start-up time of the other commands)

    return libvirt_prove.run(args)


def add_parser(commands: argparse._SubParsersAction[Any]) -> None:
    """Register ``gi-conform libvirt`` and its subcommands on the main parser."""
    where = f"DIR (default: ${DIR_ENV} or {DEFAULT_DIR})"
    parser = commands.add_parser(
        "libvirt",
        help="build and use a real libvirt (>= 11.8) to compare with the reference",
        description="Real libvirt as an implementation under test. setup builds a Debian "
        "sid chroot with libvirt and QEMU (or uses a system libvirt >= 11.8), argv "
        "converts a document with it, prove runs libvirt's argv in real QEMU.",
        epilog="Exit status: 0 success or accepted, 1 rejected by libvirt (prove: a libvirt "
        "gap proven), 2 usage error, not root or no libvirt set up, 3 setup failed or "
        "libvirt failed without a verdict.",
    )
    sub = parser.add_subparsers(dest="libvirt_command", required=True, parser_class=type(parser))

    make = sub.add_parser("setup", help="build (or reuse) the libvirt chroot; idempotent")
    make.add_argument("dir", nargs="?", metavar="DIR", help=where)
    make.add_argument("--mirror", help="Debian mirror URL (default: the host's own)")
    make.add_argument(
        "--drivers",
        type=positive_int,
        default=DEFAULT_DRIVERS,
        help=f"embedded-driver roots for parallel conversions (default {DEFAULT_DRIVERS})",
    )
    make.add_argument(
        "--chroot",
        action="store_true",
        help="build the chroot even when a system libvirt >= 11.8 is installed",
    )
    make.set_defaults(handler=_setup)

    remove = sub.add_parser("teardown", help="unmount and remove what setup made")
    remove.add_argument("dir", nargs="?", metavar="DIR", help=where)
    remove.set_defaults(handler=_teardown)

    status = sub.add_parser("status", help="say which libvirt would be used (exit 2: none)")
    status.add_argument("dir", nargs="?", metavar="DIR", help=where + "; / for the system's")
    status.add_argument("--json", action="store_true")
    status.set_defaults(handler=_status)

    argv = sub.add_parser("argv", help="convert a document with real libvirt")
    argv.add_argument("file", metavar="FILE", help="domain XML, or - for stdin")
    argv.add_argument("--dir", metavar="DIR", help=where + "; / for the system's")
    argv.add_argument(
        "--full", action="store_true", help="print libvirt's whole argv, not the GI subset"
    )
    argv.add_argument("--format", choices=["args", "json"], default="args")
    argv.add_argument("--timeout", type=float, default=60.0, help="seconds (default 60)")
    argv.set_defaults(handler=_argv)

    prove = sub.add_parser(
        "prove",
        help="prove in real QEMU what libvirt accepts and the reference rejects",
        description="Convert the corpus and generated documents with real libvirt; for "
        "every document libvirt accepts but the reference rejects (or whose initiators "
        "differ), run libvirt's own argv in real QEMU (host devices swapped for emulated "
        "stand-ins) and read the guest's SRAT. A gap is proven when QEMU refuses the "
        "argv or the SRAT lacks an initiator the document asked for.",
        epilog="Exit status: 0 no gap proven, 1 at least one libvirt gap proven, 2 usage "
        "error, no libvirt or QEMU >= 9.2, no document selected, --json not writable.",
    )
    prove.add_argument("--dir", metavar="DIR", help=where + "; / for the system's")
    add_document_sources(prove)
    prove.add_argument(
        "--dialect",
        action="append",
        default=[],
        choices=[dialect.value for dialect in DocumentDialect],
        help="only documents of this dialect (repeatable; default libvirt and none, "
        "the dialects libvirt handles)",
    )
    prove.add_argument(
        "--case", action="append", default=[], metavar="GLOB", help="only case ids matching"
    )
    prove.add_argument(
        "--timeout",
        type=seconds,
        default=20.0,
        metavar="S",
        help="per QEMU run, seconds (20)",
    )
    prove.add_argument(
        "--guest-timeout",
        type=seconds,
        default=120.0,
        metavar="S",
        help="per aarch64 guest boot (the firmware publishes its tables), seconds (120)",
    )
    prove.add_argument(
        "--jobs",
        "-j",
        type=jobs,
        default=None,
        metavar="N",
        help="documents at once (default: the usable cores, at most the driver roots)",
    )
    prove.add_argument("--json", metavar="FILE", help="write the results as JSON")
    prove.set_defaults(handler=_prove)
